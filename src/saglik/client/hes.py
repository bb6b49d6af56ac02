"""The HES code query client (HES document v3.0; contract §4), blocking and asyncio.

Every code is normalised before it is sent (dashes, spaces, lower case, QR payloads — see
:func:`saglik.client.normalize_code`); what cannot be a code raises :class:`InvalidCode` before any
request. Answers are typed; every documented failure is its own exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack, overload

from saglik.client import _hes_wire as wire
from saglik.client._core import AsyncService, Call, SyncService
from saglik.client.hes_models import BulkResult, HesPlusResult, HesResult, R, Visit

Progress = Callable[[int, int], None]
"""``progress(done, total)``: distinct codes answered so far, of the distinct valid codes."""


class Many(TypedDict, total=False):
    """``check_many``'s options besides ``plus``."""

    concurrency: int
    progress: Progress | None
    single: str | None
    """Send each code in a request of its own through this single-code method instead of the
    bulk method, for a service user granted only that one: ``check-employee-hes-code`` or
    ``check-hes-code``, or ``check-hes-code-plus`` with ``plus=True``."""


Codes = Iterable[str]
Plain = BulkResult[HesResult]
Plus = BulkResult[HesPlusResult]
No = Literal[False]
Yes = Literal[True]


@dataclass
class _Batch:
    """One ``check_many``: the plan, its requests (each with how many codes it carries), and the
    progress bookkeeping both flavours share (only the way the requests are run differs)."""

    plan: wire.BulkPlan
    requests: list[tuple[Call[Any], int]]
    concurrency: int
    progress: Progress | None
    done: int = 0

    @classmethod
    def of(
        cls,
        codes: Codes,
        plus: bool,
        concurrency: int = 4,
        progress: Progress | None = None,
        single: str | None = None,
    ) -> _Batch:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        plan = wire.BulkPlan.of(codes, strict=False)
        model: type[HesResult] = HesPlusResult if plus else HesResult
        requests: list[tuple[Call[Any], int]]
        if single is None:
            requests = [(wire.bulk_call(chunk, model), len(chunk)) for chunk in plan.chunks()]
        else:
            allowed = wire.SINGLE_PLUS if plus else wire.SINGLE_PLAIN
            if single not in allowed:
                raise ValueError(f"single must be one of {', '.join(allowed)} (plus={plus})")
            requests = [(wire.single_as_bulk(single, code, model), 1) for code in plan.inputs_of]
        batch = cls(plan, requests, concurrency, progress)
        batch.advance(0)
        return batch

    def advance(self, answered: int) -> None:
        self.done += answered
        if self.progress is not None:
            self.progress(self.done, self.plan.total)


def _single(code: str, model: type[R], method: str, visit: Visit | None = None) -> Call[R]:
    extra = wire.visit_fields(visit) if visit is not None else {}
    return wire.single_call(method, code, model, extra)


def _bulk(codes: Sequence[str], model: type[R]) -> tuple[wire.BulkPlan, Call[BulkResult[R]]]:
    method = wire.BULK_PLUS if model is HesPlusResult else wire.BULK
    codes = list(codes)
    if not 1 <= len(codes) <= wire.BULK_LIMIT:
        raise wire.size_refusal(len(codes), method)
    plan = wire.BulkPlan.of(codes, strict=True)
    return plan, wire.bulk_call(next(plan.chunks()), model)


class HesClient(SyncService):
    """Blocking HES client. Thread-safe; reuse one per process (it pools connections).

    ``base_url`` ends before ``/hes/`` (see :mod:`saglik.client.config`); ``live`` and ``test``
    name the sandbox presets.
    """

    def check_employee(self, code: str) -> HesResult:
        """``check-employee-hes-code``: an employee's code."""
        return self._run(_single(code, HesResult, wire.EMPLOYEE))

    def check_code(self, code: str) -> HesResult:
        """``check-hes-code``: the single-code method of earlier service versions, which answers
        like :meth:`check_employee`. For a service user granted only that method."""
        return self._run(_single(code, HesResult, wire.LEGACY))

    def check_visitor(self, code: str, visit: Visit) -> HesResult:
        """``check-visitor-hes-code``: a visitor's code, with where the check is made. A RISKY
        answer is reported by the service to the Ministry of Interior."""
        return self._run(_single(code, HesResult, wire.VISITOR, visit))

    def check_plus(self, code: str) -> HesPlusResult:
        """``check-hes-code-plus``: vaccination, immunity and negative-test fields as shared."""
        return self._run(_single(code, HesPlusResult, wire.PLUS))

    def check_codes(self, codes: Sequence[str]) -> BulkResult[HesResult]:
        """``check-hes-codes``: one request of 1..500 codes (else :class:`RequestInvalid`, sent
        nowhere). Any input that is not a code raises :class:`InvalidCode` before sending."""
        plan, call = _bulk(codes, HesResult)
        return plan.finish([self._run(call)])

    def check_codes_plus(self, codes: Sequence[str]) -> BulkResult[HesPlusResult]:
        """``check-hes-codes-plus``: as :meth:`check_codes`, with the plus fields."""
        plan, call = _bulk(codes, HesPlusResult)
        return plan.finish([self._run(call)])

    @overload
    def check_many(self, codes: Codes, *, plus: No = False, **kw: Unpack[Many]) -> Plain: ...
    @overload
    def check_many(self, codes: Codes, *, plus: Yes, **kw: Unpack[Many]) -> Plus: ...
    def check_many(
        self, codes: Codes, *, plus: bool = False, **options: Unpack[Many]
    ) -> Plain | Plus:
        """Any number of codes: normalised, each distinct code sent once, in requests of at most
        500 (one with ``single``) run ``concurrency`` at a time, the answers merged and keyed by
        the inputs.

        Input that is not a code does not fail the batch: it is reported in ``failure`` as
        ``"invalid"`` (:data:`ERROR_INVALID`), so one bad row in a roster of thousands costs
        nothing. A failure of a whole request (401, 403, retries exhausted) raises, and the
        requests not yet started are cancelled. ``progress(done, total)`` is called with 0 first,
        then after each request, from the calling thread.
        """
        batch = _Batch.of(codes, plus, **options)
        answers: list[Any] = []
        if not batch.requests:
            return batch.plan.finish(answers)
        workers = min(batch.concurrency, len(batch.requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="saglik-hes") as pool:
            futures: dict[Future[Any], int] = {
                pool.submit(self._run, call): size for call, size in batch.requests
            }
            try:
                for future in as_completed(futures):
                    answers.append(future.result())
                    batch.advance(futures[future])
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return batch.plan.finish(answers)


class AsyncHesClient(AsyncService):
    """The asyncio twin of :class:`HesClient`: the same methods, as coroutines."""

    async def check_employee(self, code: str) -> HesResult:
        """``check-employee-hes-code``: an employee's code."""
        return await self._run(_single(code, HesResult, wire.EMPLOYEE))

    async def check_code(self, code: str) -> HesResult:
        """``check-hes-code``: as :meth:`HesClient.check_code`."""
        return await self._run(_single(code, HesResult, wire.LEGACY))

    async def check_visitor(self, code: str, visit: Visit) -> HesResult:
        """``check-visitor-hes-code``: a visitor's code, with where the check is made."""
        return await self._run(_single(code, HesResult, wire.VISITOR, visit))

    async def check_plus(self, code: str) -> HesPlusResult:
        """``check-hes-code-plus``: vaccination, immunity and negative-test fields as shared."""
        return await self._run(_single(code, HesPlusResult, wire.PLUS))

    async def check_codes(self, codes: Sequence[str]) -> BulkResult[HesResult]:
        """``check-hes-codes``: one request of 1..500 codes, as :meth:`HesClient.check_codes`."""
        plan, call = _bulk(codes, HesResult)
        return plan.finish([await self._run(call)])

    async def check_codes_plus(self, codes: Sequence[str]) -> BulkResult[HesPlusResult]:
        """``check-hes-codes-plus``: as :meth:`check_codes`, with the plus fields."""
        plan, call = _bulk(codes, HesPlusResult)
        return plan.finish([await self._run(call)])

    @overload
    async def check_many(self, codes: Codes, *, plus: No = False, **kw: Unpack[Many]) -> Plain: ...
    @overload
    async def check_many(self, codes: Codes, *, plus: Yes, **kw: Unpack[Many]) -> Plus: ...
    async def check_many(
        self, codes: Codes, *, plus: bool = False, **options: Unpack[Many]
    ) -> Plain | Plus:
        """As :meth:`HesClient.check_many`; at most ``concurrency`` requests in flight (an
        ``asyncio.Semaphore``). If one request fails, the others are cancelled and the failure
        is raised as itself (not an ``ExceptionGroup``)."""
        batch = _Batch.of(codes, plus, **options)
        gate = asyncio.Semaphore(batch.concurrency)

        async def run(call: Call[Any], size: int) -> tuple[Any, int]:
            async with gate:
                return await self._run(call), size

        tasks = [asyncio.ensure_future(run(call, size)) for call, size in batch.requests]
        answers: list[Any] = []
        try:
            for next_done in asyncio.as_completed(tasks):
                answer, size = await next_done
                answers.append(answer)
                batch.advance(size)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return batch.plan.finish(answers)


__all__ = ["AsyncHesClient", "HesClient", "Progress"]
