"""The one composition root: the object graph a server worker, a CLI command and a test use,
built the same way from one settings object.

Everything is made on first use and then kept: a command that only lists users never opens the
audit key ring, and a worker builds each service once. The web layer adds only what is HTTP's
(the gateway, the routes) on top of this graph (``web/app.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import Clock, SystemClock
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services import passwords
from saglik.services.accounts import AccountService
from saglik.services.audit_queries import AuditQueries
from saglik.services.authn import Authenticator
from saglik.services.changes import SYSTEM, Actor, ChangeLog, store_pseudonymizer
from saglik.services.console_sessions import ConsoleSessions
from saglik.services.dashboards import Dashboards
from saglik.services.hes import HesDataService, HesQueryService
from saglik.services.icd_lookup import IcdLookup
from saglik.services.icd_names import IcdNames
from saglik.services.icd_names import load as load_icd_names
from saglik.services.obs import ObsQueryService, ObsRegistryService
from saglik.services.operator_tokens import OperatorTokens
from saglik.services.places import Places
from saglik.services.rate_limits import RateLimits
from saglik.services.throttle import GuessThrottle
from saglik.store import state
from saglik.store.audit_writer import GroupCommitter
from saglik.store.change_feed import ChangeFeed, change_feed
from saglik.store.engine import make_engine
from saglik.store.read_pool import ReadPool


@dataclass(frozen=True, slots=True)
class OperatorServices:
    """What one operator (a CLI user, an API token) works with: every change it makes, and
    every read of personal data, is logged under its name."""

    accounts: AccountService
    hes: HesDataService
    obs: ObsRegistryService
    audit: AuditQueries
    tokens: OperatorTokens
    clock: Clock


class ServiceRoot:
    def __init__(self, settings: Settings, clock: Clock, engine: Engine) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine

    @cached_property
    def pseudonymizer(self) -> Pseudonymizer:
        """Raises ``AuditKeyError`` for a key ring the store was not used with."""
        return store_pseudonymizer(self.engine, self.settings)

    def change_log(self, actor: Actor) -> ChangeLog:
        return ChangeLog(actor, self.clock, self.pseudonymizer)

    def operator(self, actor: Actor) -> OperatorServices:
        changes = self.change_log(actor)
        return OperatorServices(
            accounts=AccountService(self.engine, self.clock, changes),
            hes=HesDataService(self.engine, self.clock, changes),
            obs=ObsRegistryService(self.engine, self.clock, changes),
            audit=AuditQueries(self.engine, changes),
            tokens=OperatorTokens(self.engine, self.clock, changes),
            clock=self.clock,
        )

    @cached_property
    def operator_tokens(self) -> OperatorTokens:
        # checking a token changes nothing, so its change log is never written
        return OperatorTokens(self.engine, self.clock, self.change_log(SYSTEM))

    @cached_property
    def dashboards(self) -> Dashboards:
        return Dashboards(self.engine, self.clock)

    @cached_property
    def places(self) -> Places:
        return Places(self.engine)

    @cached_property
    def icd_names(self) -> IcdNames:
        """The one source of every ICD-10 name the service shows (``SAGLIK_ICD_NAMES`` over the
        WHO titles); the settings check has read the file already, and this is that table."""
        return load_icd_names(self.settings.icd_names)

    @cached_property
    def icd_lookup(self) -> IcdLookup:
        return IcdLookup(self.icd_names)

    @cached_property
    def console_sessions(self) -> ConsoleSessions:
        return ConsoleSessions(
            self.engine,
            self.clock,
            self.operator_tokens,
            self.guesses,
            self.change_log,
            idle=timedelta(minutes=self.settings.console_idle_minutes),
            lifetime=timedelta(hours=self.settings.console_session_hours),
        )

    @cached_property
    def hes_queries(self) -> HesQueryService:
        return HesQueryService(self.engine, self.clock, self.pseudonymizer)

    @cached_property
    def obs_queries(self) -> ObsQueryService:
        return ObsQueryService(self.engine, self.pseudonymizer)

    @cached_property
    def committer(self) -> GroupCommitter:
        return GroupCommitter(self.engine, max_batch=self.settings.audit_batch_max)

    @cached_property
    def reads(self) -> ReadPool:
        return ReadPool(self.engine, self.settings.read_threads)

    @cached_property
    def changes(self) -> ChangeFeed:
        return change_feed(self.engine)

    @cached_property
    def authenticator(self) -> Authenticator:
        return Authenticator(
            self.engine, fixed_delay_seconds=self.settings.credential_delay_seconds
        )

    @cached_property
    def guesses(self) -> GuessThrottle:
        return GuessThrottle(self.engine, self.clock)

    @cached_property
    def rate_limits(self) -> RateLimits:
        with self.engine.begin() as conn:
            store_id = state.instance_id(conn)
        return RateLimits(self.settings.rate_limit_storage, store_id)


def build(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> ServiceRoot:
    """``engine`` and ``clock`` are given by tests that share a store or move time; otherwise
    both come from the settings and the system."""
    passwords.configure(settings.hash_cost)
    return ServiceRoot(
        settings, clock or SystemClock(), engine or make_engine(settings.database_url)
    )
