"""Checks: a student's function against its reference, on Hypothesis-generated inputs.

A check never trusts the student's process.  It talks to a *target*
(``grader.target``: the sandbox when grading, the live kernel for the
student's own feedback) that can only call functions and hand back plain data;
everything else (the reference, the comparison, the verdict) happens here.
Checks of ``nn.Module`` classes run probes instead of calls: see
``grader.module_checks``.  A check keeps what it saw (``observe``), so that a
failure can name the known mistake that explains it (``grader.misconceptions``).

Grading is deterministic: no example database, no deadline, a fixed number of
examples per profile, and an explicit seed per check (``Profile.seed``).  The
public profile's seed comes from the check's id alone, so students see stable
feedback; the hidden profile's also from the instructor's grading secret
(``grader.secret``), so no one can record the graded inputs in advance.  The
examples rest on the seed, the strategies and the (pinned) Hypothesis version,
and on nothing else: Hypothesis (6.131 and later) also draws literals it finds
in whatever modules of the project a process has loaded, so the kernel,
`nbgrader autograde` and a pytest worker would each draw other examples.  The
grader turns that off (``_draw_from_strategies_only``).
"""
from __future__ import annotations

import contextvars
import dataclasses
import time
import typing
import warnings
from typing import Callable, Iterable, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, example, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from . import messages as msg
from .comparisons import CheckFailed, compare_array, is_int
from .misconceptions import (Misconception, Observations, WrongAnswers, WrongFacts,
                             WrongFunction, diagnose, load as load_misconceptions)
from .sandbox import BudgetExhausted, SandboxCrashed, SandboxError, SandboxTimeout
from .secret import check_seed
from .target import Target


def _draw_from_strategies_only() -> None:
    """No literals from the loaded modules (see the module's docstring): the same
    submission gets the same examples in every process.  Hypothesis has no setting for
    it, hence the patch; older versions, without the feature, need none."""
    from hypothesis.internal.conjecture import providers
    if hasattr(providers, "_get_local_constants"):
        nothing = providers.Constants()
        providers._get_local_constants = lambda: nothing


_draw_from_strategies_only()


class _Abort(BaseException):
    """Stop a property at once, without shrinking (a hang, a stub, a shortcut).

    A BaseException, so Hypothesis does not catch it and shrink: shrinking a
    ten-second timeout would take hours.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class Profile:
    """How hard to look: the public quick profile or the thorough hidden one."""
    name: str
    max_examples: int
    budget_s: float  # a property that needs longer than this fails as too slow
    #: look for the smallest failing input; off, a failure is reported as found (the
    #: verdict is the same, only the message is less simple)
    shrink: bool = True
    #: hidden examples are drawn from the instructor's grading secret
    hidden: bool = False
    secret: str | None = dataclasses.field(default=None, repr=False)
    #: name the misconception a failure shows, where one does (``grader.misconceptions``)
    diagnose: bool = True
    #: a hidden run of the same check follows this public one (grading, not feedback): the
    #: public run may leave to it the work it repeats under the secret seed
    #: (``SameFunctionCheck``'s repeated example, generated cases' training steps)
    hidden_follows: bool = False

    def seed(self, check_id: str) -> int:
        """The check's Hypothesis seed: from its id, and for hidden examples the secret.
        Not from the grader's source, so a refactor or a new check changes no score."""
        return check_seed(check_id, self.name, self.secret if self.hidden else None,
                                 required=self.hidden)


PROFILES = {
    "quick": Profile("quick", max_examples=30, budget_s=90.0),
    "thorough": Profile("thorough", max_examples=70, budget_s=240.0, hidden=True),
}


def hypothesis_settings(profile: Profile) -> settings:
    return settings(max_examples=profile.max_examples, derandomize=False, database=None,
                    deadline=None, suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False, verbosity=Verbosity.quiet,
                    phases=(Phase.explicit, Phase.generate) + ((Phase.shrink,) if profile.shrink
                                                               else ()),
                    print_blob=False)


@dataclasses.dataclass
class Result:
    check_id: str
    passed: bool
    message: str
    examples: int = 0
    seconds: float = 0.0
    #: the id of the misconception the failure was diagnosed as (``grader.misconceptions``)
    misconception: str | None = None


#: what the running check has seen the student's code do (see ``observe``)
_observations: contextvars.ContextVar[Observations | None] = contextvars.ContextVar(
    "observations", default=None)


def observe(item, correct: bool) -> None:
    """Keep evidence for a diagnosis: an input and the student's output on it, say."""
    observed = _observations.get()
    if observed is not None:
        observed.add(item, correct)


# --- the checks -----------------------------------------------------------------

#: calls allowed to shrink a counterexample after the first failure
SHRINK_CALLS = 150
SHRINK_SECONDS = 5.0


@dataclasses.dataclass
class Check:
    id: str
    title: str
    #: the misconceptions that can explain a failure (set by ``ProblemSet`` from
    #: ``grader.misconceptions``), of the kind ``diagnoses``
    misconceptions: tuple = dataclasses.field(default=(), repr=False, compare=False)
    #: the kind of misconception whose evidence this check keeps; None: it keeps none
    diagnoses: typing.ClassVar[type[Misconception] | None] = None

    def run(self, target: Target, profile: Profile) -> Result:
        start = time.monotonic()
        observed = Observations() if profile.diagnose else None
        token = _observations.set(observed)
        try:
            with warnings.catch_warnings():  # stderr would zero a grade cell
                warnings.simplefilter("ignore")
                n = self._run(target, profile)
        except _Abort as stop:
            return self._failed(stop.message, observed, start)
        except CheckFailed as failure:
            return self._failed(str(failure), observed, start)
        except SandboxError as err:  # a look-up, say, that the student's code broke
            return self._failed(f"The process running your code failed: {err}.", observed,
                                start)
        finally:
            _observations.reset(token)
        return Result(self.id, True, self.passed(n), n, time.monotonic() - start)

    def passed(self, examples: int, hidden: int | None = None) -> str:
        """The message of a pass: on ``examples`` examples, then on ``hidden`` hidden ones."""
        then = f", then {hidden} hidden ones" if hidden is not None else ""
        return self._headline(True) + f" ({examples} examples{then})"

    def _failed(self, why: str, observed: Observations | None, start: float) -> Result:
        """The failure, with the misconception that explains what was observed, if one does."""
        found = None
        if observed and self.misconceptions:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = diagnose(self.misconceptions, lambda m: self._agrees(m, observed))
        return Result(self.id, False, self._headline(False) + "\n" + why
                      + (f"\n{found.explain()}" if found else ""), 0, time.monotonic() - start,
                      misconception=found.id if found else None)

    def _agrees(self, mistake: Misconception, observed: Observations) -> bool:
        """Whether ``mistake`` gives everything ``observed`` (only with ``diagnoses`` set)."""
        raise NotImplementedError

    def profile_key(self, profile: Profile):
        """Profiles with the same key run the same examples, so one result serves both."""
        return profile.name

    def _headline(self, passed: bool) -> str:
        return f"{'PASSED' if passed else 'FAILED'}: {self.title} [{self.id}]"

    def _run(self, target: Target, profile: Profile) -> int:
        raise NotImplementedError


def preflight(target: Target, name: str) -> None:
    """Fail fast, with the real reason, when ``name`` cannot be called at all."""
    outcome = target.lookup(name)
    if outcome.missing:
        errors = target.describe_cell_errors()
        raise _Abort(f"`{name}` is not defined." + (f"\n{errors}" if errors else
                     " Run the cell that defines it, and keep its name."))
    if outcome.error is not None:
        raise _Abort(f"`{name}` could not be inspected: {outcome.error.message}")
    bad = target.shortcut_violations(name)
    if bad:
        raise _Abort(f"`{name}` uses a shortcut this exercise forbids "
                     f"({target.rules.why}):\n" + "\n".join(f"  {v}" for v in bad))


def timed_out(what: str, limit: float, err: SandboxTimeout, call="") -> _Abort:
    """Stop a check whose call ran out of time: its own limit, or the notebook's budget."""
    if isinstance(err, BudgetExhausted):
        return _Abort(f"{what} was not run: {err}.")
    return _Abort(f"{what} did not return within {limit:g} s (an infinite loop?)."
                  + (f"\n{call}" if call else ""))


def student_error(name: str, err, call) -> str:
    """The message for an exception the student's code raised (``err``, a StudentError);
    a stub or a shortcut stops the check at once."""
    if err.not_implemented:
        raise _Abort(f"`{name}` is not implemented yet: it still raises NotImplementedError. "
                     "Replace `raise NotImplementedError()` with your code.")
    if err.shortcut:
        raise _Abort(f"`{name}` uses a shortcut this exercise forbids: {err.message}\n"
                     f"{err.traceback}")
    return f"`{name}` raised {err.type}: {err.message}\n{call}\n{err.traceback}"


#: True while :func:`search` checks a call that Hypothesis found and will shrink if it fails:
#: a failing call is then reported as the smallest found.  False for a fixed example
#: (``@example``), with shrinking off, and outside a search.
_shrinking = contextvars.ContextVar("shrinking", default=False)


class _LazyCall:
    """The call, printed only when a message needs it (printing arrays is slow), under a
    heading that says whether it was shrunk (``messages.call_heading``)."""

    def __init__(self, name, reference, args, kwargs):
        self.parts = (name, reference, args, kwargs)
        self.shrunk = _shrinking.get()

    def __str__(self):
        return msg.call_heading(self.shrunk) + "\n" + msg.show_call(*self.parts)

    def __format__(self, spec):
        return format(str(self), spec)


class _Explicit:
    """A fixed example, marked so that :func:`search` knows it was not found and shrunk."""
    __slots__ = ("case",)

    def __init__(self, case):
        self.case = case

    def __repr__(self):
        return f"_Explicit({self.case!r})"


def work_clock(target: Target) -> Callable[[], float]:
    """Seconds of work done so far for a check on ``target``: this process's CPU time and
    the time charged to the student's code, never the wall clock, so that a busy machine
    (more graders than cores) cannot make a check too slow."""
    return lambda: time.process_time() + target.spent()


def search(check_id: str, name: str, strategy, examples: Sequence, n_examples: int,
           profile: Profile, one: Callable, clock: Callable[[], float]) -> int:
    """Run ``one(case)`` on ``examples`` and then on cases drawn from ``strategy``, seeded
    for ``check_id`` (``Profile.seed``), within ``profile.budget_s`` seconds of ``clock``
    (:func:`work_clock`).

    ``one`` raises ``CheckFailed`` for a counterexample, which Hypothesis
    shrinks, within ``SHRINK_CALLS`` and ``SHRINK_SECONDS``; ``_Abort`` stops
    at once.  Returns the number of cases tried.
    """
    count, start = 0, clock()
    last_failure: list[str] = []
    first_failure = [0, 0.0]

    def body(case):
        nonlocal count
        explicit = isinstance(case, _Explicit)
        if explicit:
            case = case.case
        elapsed = clock() - start
        if elapsed > profile.budget_s:
            if last_failure:
                raise _Abort(last_failure[-1] + "\n(The search for a smaller failing input "
                             "was stopped after %.0f s.)" % elapsed)
            raise _Abort(f"`{name}` is too slow to grade: {count} examples took "
                         f"{elapsed:.0f} s (limit {profile.budget_s:.0f} s for "
                         f"{n_examples}).")
        if last_failure and (count - first_failure[0] > SHRINK_CALLS or
                             clock() - first_failure[1] > SHRINK_SECONDS):
            # Enough shrinking.  Only the message can depend on this stop, never the score;
            # work time, not the wall clock, so that a busy machine does not change it either.
            raise _Abort(last_failure[-1])
        count += 1
        shrinking = _shrinking.set(profile.shrink and not explicit)
        try:
            one(case)
        except CheckFailed as failure:
            if not last_failure:
                first_failure[:] = [count, clock()]
            last_failure.append(str(failure))
            raise
        finally:
            _shrinking.reset(shrinking)

    test = given(strategy)(body)
    for case in examples:
        test = example(_Explicit(case))(test)
    test = hypothesis_settings(dataclasses.replace(profile, max_examples=n_examples))(test)
    test = seed(profile.seed(check_id))(test)
    try:
        test()
    except Flaky as err:
        raise CheckFailed(f"`{name}` gave different results for the same input "
                          f"(does it use randomness or global state?): {err}") from None
    except BaseException as err:
        # Hypothesis may wrap the failure in an ExceptionGroup-like container.
        inner = getattr(err, "exceptions", None)
        if inner and isinstance(inner[0], (CheckFailed, _Abort)):
            raise inner[0] from None
        raise
    return count


@dataclasses.dataclass
class PropertyCheck(Check):
    """``function(*args, **kwargs)`` equals ``reference(*args, **kwargs)`` for generated args.

    ``strategy`` draws ``(args, kwargs)``.  With ``raises`` set, every generated
    call must raise that exception type instead (an invalid setting).
    """
    function: str = ""
    reference: Callable = None
    strategy: st.SearchStrategy = None
    #: ``(expected, actual, *, context)`` raising CheckFailed: see ``grader.comparisons``
    compare: Callable = compare_array
    raises: type[Exception] | None = None
    #: examples whose expected value fails this test are skipped (e.g. an all-padding window)
    valid: Callable | None = None
    examples: Sequence[tuple[tuple, dict]] = ()
    #: profile -> number of examples, when a check needs a different budget
    max_examples: dict = dataclasses.field(default_factory=dict)
    #: profile -> strategy, when a profile draws other inputs than ``strategy`` (the hidden
    #: one: full-precision values and some real layer sizes)
    strategies: dict = dataclasses.field(default_factory=dict)

    diagnoses = WrongFunction

    def _agrees(self, mistake: WrongFunction, observed: Observations) -> bool:
        for args, kwargs, got in observed:
            try:
                self.compare(mistake.functions[self.function](*args, **kwargs), got, context="")
            except CheckFailed:
                return False
        return True

    def _run(self, target: Target, profile: Profile) -> int:
        preflight(target, self.function)
        n_examples = self.max_examples.get(profile.name, profile.max_examples)
        strategy = self.strategies.get(profile.name, self.strategy)
        return search(self.id, self.function, strategy, list(self.examples), n_examples,
                      profile, lambda case: self._one(target, *case, self.compare),
                      work_clock(target))

    def _one(self, target, args, kwargs, compare) -> None:
        call = _LazyCall(self.function, self.reference, args, kwargs)
        expected = None
        if self.raises is None:
            expected = self.reference(*args, **kwargs)
            if self.valid is not None and not self.valid(expected):
                reject()
        originals = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        try:
            out = target.call(self.function, args, kwargs)
        except SandboxTimeout as err:
            raise timed_out(f"`{self.function}`", target.call_timeout, err, call) from None
        except SandboxCrashed as err:
            raise CheckFailed(f"`{self.function}` crashed the process running it: {err}.\n"
                              f"{call}") from None
        if out.missing:
            raise _Abort(f"`{self.function}` is not defined.")
        if out.error is not None:
            if self.raises is not None and out.error.type == self.raises.__name__:
                return
            raise CheckFailed(student_error(self.function, out.error, call))
        if self.raises is not None:
            raise CheckFailed(f"This setting is impossible, so `{self.function}` must raise "
                              f"{self.raises.__name__} with a helpful message, but it returned "
                              f"{out.value!r:.200}.\n{call}")
        try:
            compare(expected, out.value, context=call)
        except CheckFailed:
            observe((args, kwargs, out.value), correct=False)
            raise
        observe((args, kwargs, out.value), correct=True)
        for i, (before, after) in enumerate(zip(originals, out.args_after or [])):
            if before is not None and isinstance(after, np.ndarray) and not (
                    after.shape == before.shape and np.array_equal(after, before)):
                name = msg.bind(self.reference, args, kwargs)[i][0]
                raise CheckFailed(f"`{self.function}` changed its input `{name}` in place. "
                                  "A function must not modify its arguments: copy first "
                                  f"(for example with np.pad, which returns a new array).\n{call}")


@dataclasses.dataclass
class ValueCheck(Check):
    """Named answers (quiz numbers) equal values computed by the references.

    The expected value is not revealed on failure: that would give the answer away.
    """
    answers: dict = dataclasses.field(default_factory=dict)  # name -> zero-arg callable
    hints: dict = dataclasses.field(default_factory=dict)    # name -> hint shown on failure

    diagnoses = WrongAnswers

    def _agrees(self, mistake: WrongAnswers, observed: Observations) -> bool:
        """Every wrong value is the mistake's, and the mistake's values are all there."""
        for given, expected in observed:
            mistaken = {**expected, **{k: f() for k, f in mistake.answers.items()}}
            if any(k not in given or given[k] != v for k, v in mistaken.items()):
                return False
        return True

    def _run(self, target: Target, profile: Profile) -> int:
        wrong, missing = [], []
        given, expected_values = {}, {}
        for name, expected_fn in self.answers.items():
            out = target.lookup(name)
            if out.missing:
                missing.append(f"`{name}`")
                continue
            value, expected = out.value, expected_fn()
            if is_int(value):
                given[name], expected_values[name] = int(value), expected
            if not is_int(value):
                wrong.append(f"`{name}` must be an int, but it is {value!r:.100} "
                             f"({msg.type_name(value)}).")
            elif int(value) != expected:
                hint = self.hints.get(name)
                wrong.append(f"`{name}` = {value!r} is not right." + (f" Hint: {hint}" if hint
                                                                          else ""))
        observe((given, expected_values), correct=given == expected_values)
        if missing:
            errors = target.describe_cell_errors()
            wrong.append(f"Not defined yet: {', '.join(missing)}." + (f"\n{errors}" if errors
                                                                     else ""))
        if wrong:
            raise CheckFailed("\n".join(wrong))
        return len(self.answers)


@dataclasses.dataclass
class NoPixelLoopsCheck(Check):
    """``function`` runs no Python loop over pixels: inspected, not timed.

    The grader counts the lines of the student's own code that run for a small
    and for a large image with the same batch, channels and kernel.  Loops over
    kernel taps or channels run equally often for both; a loop over output rows
    or pixels runs more often for the larger image.  Line counts are exact, so
    unlike a timed test this cannot flake on a busy machine.
    """
    function: str = ""
    reference: Callable = None  # its signature names the arguments in messages
    small: tuple = ()  # (args, kwargs)
    large: tuple = ()
    pixels: tuple = (0, 0)  # output pixels for small and large, for the message
    #: extra lines tolerated for the large input (a branch or two, never a loop)
    slack: int = 6

    def _run(self, target: Target, profile: Profile) -> int:
        preflight(target, self.function)
        counts = []
        for args, kwargs in (self.small, self.large):
            try:
                out = target.call(self.function, args, kwargs, count_lines=True)
            except SandboxTimeout as err:
                raise timed_out(f"`{self.function}`", target.call_timeout, err) from None
            except SandboxCrashed as err:
                raise CheckFailed(f"`{self.function}` crashed the process running it: "
                                  f"{err}.") from None
            call = _LazyCall(self.function, self.reference, args, kwargs)
            if out.missing:
                raise _Abort(f"`{self.function}` is not defined.")
            if out.error is not None:
                raise CheckFailed(student_error(self.function, out.error, call))
            if out.lines is None:
                raise CheckFailed(f"`{self.function}` switched off the line counter this check "
                                  "uses (sys.settrace), so it cannot be inspected.")
            counts.append(out.lines)
        if counts[1] > counts[0] + self.slack:
            (p_small, p_large) = self.pixels
            raise CheckFailed(
                f"`{self.function}` loops over pixels in Python. This check inspects how many "
                f"lines of your code run (it does not time them): {counts[0]} for an output of "
                f"{p_small} pixels, {counts[1]} for {p_large} pixels. The count must not grow "
                "with the image. Gather every window at once (im2col, e.g. with "
                "numpy.lib.stride_tricks.sliding_window_view or a loop over the kH*kW kernel "
                "taps) and use one matrix product.")
        return 2


@dataclasses.dataclass
class CaseCheck(Check):
    """A check run case by case, ``self._one(target, case)``: on the fixed ``examples``
    alone (``strategy`` None: whole networks are costly), or on them and then on cases
    drawn from ``strategy``, ``max_examples`` of them per profile."""
    strategy: st.SearchStrategy = None
    examples: Sequence = ()
    #: profile -> number of cases, when a check needs a different budget
    max_examples: dict = dataclasses.field(default_factory=dict)

    def profile_key(self, profile: Profile):
        if self.strategy is None:  # fixed examples: the thorough run would repeat the quick one
            return min(len(self.examples), max(self._n(profile), 1))
        return profile.name

    def _n(self, profile: Profile) -> int:
        return self.max_examples.get(profile.name, profile.max_examples)

    def _run_cases(self, target: Target, profile: Profile, name: str,
                   one: Callable | None = None) -> int:
        """``one(case)`` (default ``self._one(target, case)``) on each case."""
        one = one or (lambda case: self._one(target, case))
        n = self._n(profile)
        if self.strategy is None:
            for case in self.examples[:max(n, 1)]:
                one(case)
            return len(self.examples[:max(n, 1)])
        return search(self.id, name, self.strategy, list(self.examples), n, profile, one,
                      work_clock(target))

    def _one(self, target: Target, case) -> None:
        raise NotImplementedError


@dataclasses.dataclass
class ProbeCheck(CaseCheck):
    """A sandbox probe (``grader.probes``) runs the student's functions on real PyTorch
    objects; ``judge(case, got)`` decides here what is wrong (a message) or None.

    For functions that take models, loaders and optimizers, which cannot cross the
    process boundary: the probe builds instrumented ones next to the student's code
    and reports what happened to them.  Cases come from ``strategy`` (after
    ``examples``) or from ``examples`` alone; a case has ``spec()`` (the probe's
    arguments, plain data), a readable ``str`` and ``raises``: the exception type
    name the student's code must raise for it, or None.
    """
    functions: tuple = ()  # the student's names the probe calls
    probe: str = ""
    judge: Callable = None
    #: seconds one probe may take (a training run needs longer than a function call)
    timeout: float | None = None
    #: pass the problem set's rules to the probe (to trip a scoped shortcut)
    with_rules: bool = False
    #: the examples' data rests on the profile's seed (``case.with_seed(seed)``): the hidden
    #: profile's on the instructor's secret, so no one can prepare answers for it
    seeded: bool = False

    diagnoses = WrongFacts

    def _agrees(self, mistake: WrongFacts, observed: Observations) -> bool:
        return all(mistake.fits(case, got) for case, got in observed)

    def profile_key(self, profile: Profile):
        return profile.name if self.seeded else super().profile_key(profile)

    def _run(self, target: Target, profile: Profile) -> int:
        for name in self.functions:
            preflight(target, name)
        check = self
        if self.seeded:
            seed = profile.seed(self.id)
            check = dataclasses.replace(self, examples=[c.with_seed(seed) for c in self.examples])
        return check._run_cases(target, profile, self.functions[0])

    def _one(self, target: Target, case) -> None:
        spec = case.spec()
        if self.with_rules:
            spec["rules"] = target.rules.to_json()
        name = self.functions[0]
        try:
            out = target.probe(self.probe, spec, self.timeout)
        except SandboxTimeout as err:
            raise timed_out(str(case), self.timeout or target.call_timeout, err) from None
        except SandboxCrashed as err:
            raise CheckFailed(f"{case}: crashed the process running it: {err}.") from None
        if out.missing:
            raise _Abort(f"`{name}` is not defined.")
        if out.error is not None:
            if getattr(case, "raises", None) and out.error.type == case.raises:
                return
            raise CheckFailed(student_error(name, out.error, f"While running {case}:"))
        if getattr(case, "raises", None):
            raise CheckFailed(f"{case}: this is invalid, so it must raise {case.raises} with a "
                              "helpful message (as PyTorch does), but it returned normally.")
        if isinstance(out.value, dict) and "mismatch" in out.value:
            raise CheckFailed(f"{case}: {out.value['mismatch']}")
        problem = self.judge(case, out.value)
        observe((case, out.value), correct=not problem)
        if problem:
            raise CheckFailed(f"{case}: {problem}")


@dataclasses.dataclass
class ProblemSet:
    """The checks of one problem set, by id, and the shortcut rules it enforces."""
    id: str
    notebook: str
    checks: Iterable[Check]
    rules: object = None
    #: seconds one call (or probe) of the student's code may take in the sandbox
    call_timeout: float = 10.0
    #: the sandbox's address-space limit
    memory_mb: int = 4096
    #: site-packages paths the sandbox does not show (data whose labels are graded)
    sandbox_hides: tuple[str, ...] = ()

    def __post_init__(self):
        self.checks = {c.id: c for c in self.checks}
        for mistake in load_misconceptions(self.id):
            for check_id in mistake.checks:
                check = self[check_id]
                if check.diagnoses is None or not isinstance(mistake, check.diagnoses):
                    raise TypeError(f"{self.id}: misconception {mistake.id!r} is a "
                                    f"{type(mistake).__name__}, but check {check_id!r} "
                                    f"diagnoses {getattr(check.diagnoses, '__name__', 'none')}")
                check.misconceptions += (mistake,)

    def __getitem__(self, check_id: str) -> Check:
        try:
            return self.checks[check_id]
        except KeyError:
            raise KeyError(f"problem set {self.id} has no check {check_id!r}; "
                           f"it has {sorted(self.checks)}") from None
