"""Every action callvault knows, and who may do it.

Each route and command declares one of these; ``Permissions.allowed`` is the one decision
function, and asking about an action that was never registered is a programming error, not a
denial. Who may hear audio is not written here: it comes from the policy file
(``roles[].can_hear_audio``), so a council that adds a listening role changes one file.
"""

from __future__ import annotations

from callvault.context import Actor
from callvault.errors import Refused
from callvault.policy.model import Policy

PUBLIC = "public"
# Any signed-in person or service account (e.g. "who am I?").
SIGNED_IN = "signed_in"
# People whose policy role may hear audio (policy roles[].can_hear_audio). Advisors, auditors
# and administrators never are (separation of duties); the services then check the purpose
# register: which roles may use which purpose, for which recordings.
LISTENERS = "listeners"

# Legal holds keep evidence past its retention date, so the roles that run the cases needing
# it (complaints, ombudsman, safety, information governance, authorised managers) place
# them. The same people release: a case is often handed on, so tying a release to whoever
# placed it would strand holds, and every release states its reason in the trail. Advisors
# and administrators have no part in evidence (separation of duties).
HOLD_KEEPERS = frozenset({"operator", "role:dpo", "role:complaints_officer",
                          "role:safety_officer", "role:authorised_manager"})  # fmt: skip

# action -> who may do it: PUBLIC, SIGNED_IN, LISTENERS, "operator" (the local operator at the
# CLI), "system" (named system actors for jobs and capture) or "role:<policy role id>".
ACTIONS: dict[str, frozenset[str]] = {
    "health:read": frozenset({PUBLIC}),
    # Counts only, for the monitoring system on the council network.
    "metrics:read": frozenset({PUBLIC}),
    # Signing in and out must be reachable before anyone is known.
    "session:open": frozenset({PUBLIC}),
    "session:read": frozenset({SIGNED_IN}),
    # Signing out needs the session (and, by cookie, its CSRF token: no forced sign-outs).
    "session:close": frozenset({SIGNED_IN}),
    "recordings:ingest": frozenset({"operator", "role:ingest", "system"}),
    "policy:read": frozenset({"operator", "role:administrator", "role:dpo", "role:auditor"}),
    "audit:read": frozenset({"operator", "role:auditor", "role:dpo"}),
    "audit:verify": frozenset({"operator", "role:auditor", "role:dpo"}),
    "keys:rotate": frozenset({"operator"}),
    "db:grant": frozenset({"operator"}),
    # Jobs act as named system actors with these narrow grants.
    "recordings:verify": frozenset({"system"}),
    "store:check": frozenset({"operator"}),
    # Backups copy every recording (as ciphertext); restore replaces the database.
    "store:backup": frozenset({"operator"}),
    "store:restore": frozenset({"operator"}),
    "users:manage": frozenset({"operator", "role:administrator"}),
    # The six-monthly access review: who holds which role and when they last acted.
    "users:review": frozenset({"operator", "role:administrator", "role:dpo", "role:auditor"}),
    # Bulk-access alerts are for the DPO (and the operator at the CLI).
    "alerts:read": frozenset({"operator", "role:dpo"}),
    # The hourly job that writes each new bulk-access alert into the audit trail.
    "alerts:record": frozenset({"system"}),
    # Listening. The grant services narrow each to the purposes the role may use.
    "recordings:request": frozenset({LISTENERS}),
    "recordings:approve": frozenset({LISTENERS}),
    "recordings:revoke": frozenset({LISTENERS}),
    "recordings:play": frozenset({LISTENERS}),
    "recordings:export": frozenset({LISTENERS}),
    # A transcript is read under a grant, like audio is heard (speech/service.py).
    "transcripts:read": frozenset({LISTENERS}),
    # The speech job: transcribe, find personal data, mute it, index the redacted text.
    "recordings:transcribe": frozenset({"system"}),
    # Review flags the speech job raises (speech/flags.py narrows each role to its kinds):
    # conduct for the safety officer, card digits for authorised managers; the DPO sees all.
    "flags:read": frozenset(
        {"operator", "role:safety_officer", "role:authorised_manager", "role:dpo"}
    ),
    "flags:review": frozenset(
        {"operator", "role:safety_officer", "role:authorised_manager", "role:dpo"}
    ),
    # Metadata search: access/searching.py narrows what each role sees.
    "recordings:search": frozenset({LISTENERS}),
    # Grants: listeners see their own and those they may decide; advisors see the requests
    # that concern their own calls (access/grant_views.py narrows).
    "grants:read": frozenset({LISTENERS, "role:advisor"}),
    # Card payments: the payment system pauses and resumes a live call's recording.
    "calls:pause": frozenset({"operator", "role:payments"}),
    # Purging what the retention schedule says is due: the daily job, or the operator.
    "retention:run": frozenset({"operator", "system"}),
    # Legal holds: see HOLD_KEEPERS. Auditors read the hold register to check that holds are
    # reviewed and that purges obeyed them; they place none (read only).
    "holds:place": HOLD_KEEPERS,
    "holds:release": HOLD_KEEPERS,
    "holds:review": HOLD_KEEPERS,
    "holds:read": HOLD_KEEPERS | {"role:auditor"},
    # The daily job that writes a reminder for each hold whose review date has come.
    "holds:remind": frozenset({"system"}),
    # What is due to be deleted and when: those who could hold it, and those who oversee.
    "retention:read": HOLD_KEEPERS | {"role:auditor"},
    # A recording's own custody trail, on its page: who may see the recording, and oversight.
    "recordings:trail": frozenset({LISTENERS, "role:auditor", "role:dpo"}),
    # The disclosure register: entered by whoever exported; read by the DPO and auditors.
    "disclosures:record": frozenset({LISTENERS}),
    "disclosures:read": frozenset({"operator", "role:dpo", "role:auditor"}),
    # People's rights (Art. 15, 17, 21): the DPO's information-governance work. The register
    # holds requesters' names and numbers, so auditors read it and nobody else.
    "rights:manage": frozenset({"role:dpo"}),
    "rights:read": frozenset({"role:dpo", "role:auditor"}),
    # Crypto-shredding a recording before its retention date: only by a granted erasure or
    # objection request, decided by the DPO (retention/purge.py RetentionService.erase).
    "recordings:erase": frozenset({"role:dpo"}),
    # Training clips (training/service.py): managers who use the training purpose propose;
    # the staff member on the call decides (the service checks it is them, signed in);
    # someone other than the proposer reviews; staff and their managers use the library.
    "training:propose": frozenset({"role:team_leader", "role:authorised_manager"}),
    "training:consent": frozenset({SIGNED_IN}),
    "training:review": frozenset({"role:authorised_manager", "role:dpo"}),
    "training:read": frozenset(
        {"role:advisor", "role:team_leader", "role:authorised_manager", "role:dpo"}
    ),
    # The job that makes, removes and expires clips.
    "training:make": frozenset({"system"}),
    # The fair processing notice and the notice for staff: generated from the policy alone,
    # so anyone may read them, signed in or not (staff without an account included).
    "notice:read": frozenset({PUBLIC}),
    # The Art. 30 record of processing: configuration only, for those who answer for it.
    "ropa:read": frozenset({"operator", "role:administrator", "role:dpo", "role:auditor"}),
    # The scope proof: calls kept and declined per line, and any kept outside the policy.
    # Administrators too: they own the policy file and routing a violation points at, and
    # the report holds no caller data and no audio.
    "scope:read": frozenset({"operator", "role:administrator", "role:dpo", "role:auditor"}),
    # Demand analysis (analytics/demand.py): figures from call metadata and redacted
    # transcripts, never audio or numbers. The business-intelligence role holds this and
    # nothing else; contact-centre managers and the DPO see the same figures.
    "demand:read": frozenset(
        {"operator", "role:business_intelligence", "role:authorised_manager", "role:dpo"}
    ),
    # The job that derives each call's demand facts (line, hour, topics, caller hash).
    "demand:index": frozenset({"system"}),
    # Re-deriving them under the policy in force now, after its topics or opening hours
    # change (analytics/demand_reindex.py): administrators, who own the policy file, and the
    # operator. Counts only come back; readers of the figures do not rebuild them.
    "demand:reindex": frozenset({"operator", "role:administrator"}),
    # Customer conduct incidents (conduct/service.py): the safety and conduct officer's cases,
    # linking flagged recordings, holds and evidence bundles. Authorised managers act on them
    # too (the policy's staff_safety purpose is theirs as well); the DPO and auditors read.
    "incidents:manage": frozenset({"role:safety_officer", "role:authorised_manager"}),
    "incidents:read": frozenset(
        {"role:safety_officer", "role:authorised_manager", "role:dpo", "role:auditor"}
    ),
    # Quality sampling (analytics/sampling.py): the system draws each month's calls per
    # advisor; the monthly job, a manager or the operator may start a month's draw (once; a
    # second draw needs a reason and is audited). Evaluators and oversight read the samples.
    "quality:draw": frozenset({"operator", "system", "role:authorised_manager"}),
    "quality:read": frozenset(
        {"operator", "role:team_leader", "role:authorised_manager", "role:dpo", "role:auditor"}
    ),
    # Evaluations (analytics/evaluations.py): those who may use the quality purpose score the
    # sampled calls they listened to; authorised managers run calibration sessions; the staff
    # who take calls (advisors, team leaders) read the evaluations of their own calls and
    # respond (the service checks the call is theirs).
    "quality:evaluate": frozenset({"role:team_leader", "role:authorised_manager"}),
    "quality:calibrate": frozenset({"role:authorised_manager"}),
    "quality:own": frozenset({"role:advisor", "role:team_leader"}),
}


class Permissions:
    """``ACTIONS`` read against one policy's roles."""

    def __init__(self, listener_roles: frozenset[str]) -> None:
        self.listener_roles = listener_roles

    @classmethod
    def from_policy(cls, policy: Policy) -> Permissions:
        return cls(frozenset(role.id for role in policy.roles if role.can_hear_audio))

    def allowed(self, actor: Actor | None, action: str) -> bool:
        """May ``actor`` (None: not signed in) do ``action``?"""
        try:
            who = ACTIONS[action]
        except KeyError:
            raise AssertionError(f"action {action!r} is not registered in access.actions") from None
        return PUBLIC in who or (actor is not None and not who.isdisjoint(self._holds(actor)))

    def _holds(self, actor: Actor) -> set[str]:
        """The ACTIONS tokens ``actor`` satisfies."""
        if actor.kind in {"system", "operator"}:
            return {actor.kind}
        held = {SIGNED_IN, f"role:{actor.role}"}
        if actor.kind == "user" and actor.role in self.listener_roles:
            held.add(LISTENERS)
        return held

    def require(self, actor: Actor | None, action: str) -> None:
        if not self.allowed(actor, action):
            name = actor.name if actor else "an anonymous client"
            raise Refused(f"{name} may not do {action}", "actor")


# Actions whose answer does not depend on the policy can be checked without one (CLI
# maintenance commands, jobs); asking these about a listening action is a programming error.
_STATIC = Permissions(frozenset())


def require(actor: Actor | None, action: str) -> None:
    """``Permissions.require`` for an action that involves no policy role."""
    if LISTENERS in ACTIONS.get(action, frozenset()):
        raise AssertionError(f"{action} depends on the policy's roles; use Permissions")
    _STATIC.require(actor, action)
