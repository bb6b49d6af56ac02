"""The district picker that follows a province picker (htmx swaps it in when the province
changes): one fragment shared by the user scope and the death form's places."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from saglik.web.console.pages import Console, whole

PROVINCE_OF = {
    "district_code": "province_code",
    "death_district": "death_province",
    "residence_district": "residence_province",
}
"""Each district field of the console's forms, and the province field it follows (htmx sends
the province select's own name and value)."""


def routes(console: Console) -> list[BaseRoute]:
    places = console.root.places

    async def districts(request: Request) -> Response:
        """``?field=<district field>&<its province field>=<plate>`` → the labelled select."""
        query = request.query_params
        field = query.get("field", "district_code")
        if field not in PROVINCE_OF:
            field = "district_code"
        plate = whole(query.get(PROVINCE_OF[field], ""), 3)
        found = await console.attempt(lambda: [] if plate is None else places.districts(plate))
        return console.render(
            request,
            "_district_select.html",
            {
                "field": field,
                "districts": found if isinstance(found, list) else [],
                "selected": query.get("selected", ""),
            },
        )

    return [Route("/places/districts", districts, methods=["GET"])]
