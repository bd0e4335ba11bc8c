"""Checks of a student's ``nn.Module`` class against a reference model, one class per property.

A model cannot cross the process boundary, so each check sends a probe
(``grader.probes``) that builds the student's class next to their code and
reports plain data (a parameter table, an output, gradients), and compares it
here with the same report on the reference.

Student code can patch the probe, so what the sandbox reports is trusted only as
far as it is hard to make up.  :class:`SameFunctionCheck` compares numbers that
only the reference's computation gives: outputs in eval and train mode,
gradients and BatchNorm statistics, under weights and inputs drawn from the
check's seed (the instructor's secret for hidden checks), with the reference
absent from the sandbox.  The other checks grade properties that any class
built to have them earns: a parameter table, an output shape, an initialisation,
``relu(x)`` with a zeroed BatchNorm, a gradient for every parameter.  A student
who forges those reports gets no more than a class written to satisfy just them
would, and nothing from the function checks (``tests/test_hostile_models.py``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
from hypothesis import reject

from . import references as R
from .checks import CaseCheck, Profile, _Abort, observe, preflight, student_error, timed_out
from .comparisons import CheckFailed, compare_array
from .misconceptions import Observations, WrongModel
from .probes import sampled
from .sandbox import SandboxCrashed, SandboxTimeout
from .target import Target


def _layer_diff(mine: list, theirs: list, limit: int = 6) -> str:
    """The per-layer parameter counts of both models from the first layer that differs."""
    i = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a[1:] != b[1:]),
             min(len(mine), len(theirs)))
    rows = [f"  {'#':>3}  {'your layer':<28} {'params':>12}   {'reference layer':<28} "
            f"{'params':>12}"]
    for j in range(i, min(max(len(mine), len(theirs)), i + limit)):
        a = mine[j] if j < len(mine) else ["(none)", "", 0]
        b = theirs[j] if j < len(theirs) else ["(none)", "", 0]
        rows.append(f"  {j:>3}  {(a[0] + ' ' + a[1]).strip():<28.28} {a[2]:>12,}   "
                    f"{(b[0] + ' ' + b[1]).strip():<28.28} {b[2]:>12,}")
    return "Layers with parameters, in order, from the first that differs:\n" + "\n".join(rows)


def _first_layer_off(mine: list, theirs: list) -> str:
    """Name the first reference layer (in the order it runs) whose output the student's lacks."""
    def same(a, b):
        return a[2] == b[2] and all(math.isclose(x, y, rel_tol=1e-7, abs_tol=1e-9)
                                    for x, y in zip(a[3:], b[3:]))
    for j, ref in enumerate(theirs):
        if not any(same(m, ref) for m in mine):
            if j == 0:
                return (f"Already the first layer with weights (`{ref[0]}`, {ref[1]}) computes "
                        "something else: look at it and at what comes before it.")
            prev = theirs[j - 1]
            return (f"The layers agree up to `{prev[0]}` ({prev[1]}); the output of `{ref[0]}` "
                    f"({ref[1]}) already differs. Look at that layer and at what happens "
                    "between the two (activations, pooling, a skipped or extra step).")
    return ("Every layer with weights computes what the reference's does, so the difference "
            "is in what happens after them or between them (activations, pooling, dropout, "
            "additions, concatenation order).")


@dataclasses.dataclass
class ModuleCheck(CaseCheck):
    """A student's ``nn.Module`` class against a reference model, on generated cases.

    ``strategy`` draws ``grader.cases.ModuleCase``; each subclass checks one property
    of the class it builds.
    """
    cls: str = ""
    #: weights and inputs come from the profile's seed (so hidden cases from the secret);
    #: otherwise from seed 0, and the hidden run of fixed examples repeats the public one
    seeded = False

    def profile_key(self, profile: Profile):
        return profile.name if self.seeded else super().profile_key(profile)

    def _run(self, target: Target, profile: Profile) -> int:
        preflight(target, self.cls)
        seed = profile.seed(self.id) % 2**31 if self.seeded else 0

        def one(case):
            try:
                self._one(target, case, seed)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
                # only code in the sandbox that rewrites the probes' reports gets here
                raise CheckFailed(f"{case}: the sandbox's report is malformed ({type(err).__name__}"
                                  f": {str(err)[:200]}): did code in the notebook change the "
                                  "grader?") from None
        return self._run_cases(target, profile, self.cls, one)

    def _one(self, target: Target, case, seed: int) -> None:
        raise NotImplementedError

    def _probe(self, target: Target, name: str, case, **spec):
        try:
            out = target.probe(name, {"ctor": case.ctor(), **spec})
        except SandboxTimeout as err:
            raise timed_out(f"`{case}`", target.call_timeout, err) from None
        except SandboxCrashed as err:
            raise CheckFailed(f"`{case}` crashed the process running it: {err}.") from None
        if out.missing:
            raise _Abort(f"`{self.cls}` is not defined.")
        if out.error is not None:
            if out.error.type == "NameError" and out.error.message.startswith("`"):
                # An argument the probe looks up (``cfgs``, ``BasicBlock``) was never defined.
                errors = target.describe_cell_errors()
                raise _Abort(f"Not defined yet: {out.error.message.split(' is ')[0]}, needed "
                             f"for {case}." + (f"\n{errors}" if errors else ""))
            raise CheckFailed(student_error(self.cls, out.error, f"While running {case}:"))
        if isinstance(out.value, dict) and "mismatch" in out.value:
            raise CheckFailed(f"{case}: {out.value['mismatch']}")
        return out.value


@dataclasses.dataclass
class ParamCountCheck(ModuleCheck):
    """The exact parameter count; a failure lists the per-layer counts from where they differ."""

    diagnoses = WrongModel

    def _agrees(self, mistake: WrongModel, observed: Observations) -> bool:
        return all(_counts(R.model_structure(mistake.build(case.reference))["layers"])
                   == _counts(layers) for case, layers in observed)

    def _one(self, target: Target, case, seed: int) -> None:
        got = self._probe(target, "structure", case)
        want = R.model_structure(case.reference)
        # counted here from the shapes: the sandbox reports data, never the verdict's numbers
        n_mine = sum(math.prod(int(d) for d in p[1]) for p in got["params"])
        n_ref = sum(math.prod(p[1]) for p in want["params"])
        observe((case, got["layers"]), correct=n_mine == n_ref)
        if n_mine != n_ref:
            raise CheckFailed(
                f"{case} has {n_mine:,} parameters; {case.reference_name} has {n_ref:,} "
                f"({n_mine - n_ref:+,}).\n" + _layer_diff(got["layers"], want["layers"]))


def _counts(layers: list) -> list[int]:
    """The parameter count of each layer that has parameters, in order."""
    return [int(row[2]) for row in layers]


@dataclasses.dataclass
class OutputShapeCheck(ModuleCheck):
    """The output shape, for every input the reference accepts."""
    diagnoses = WrongModel

    def _agrees(self, mistake: WrongModel, observed: Observations) -> bool:
        return all(R.model_output_shape(mistake.build(case.reference), case.input_shape) == got
                   for case, got in observed)

    def _one(self, target: Target, case, seed: int) -> None:
        want = R.model_output_shape(case.reference, case.input_shape)
        if want is None:
            reject()  # the reference refuses this input; nothing to compare
        (got,) = self._probe(target, "output_shapes", case, input_shapes=[list(case.input_shape)])
        if isinstance(got, dict):
            raise CheckFailed(f"{case}: the reference gives an output of shape {want}, yours "
                              f"raised {got['error']}")
        observe((case, tuple(got)), correct=tuple(got) == want)
        if tuple(got) != want:
            raise CheckFailed(f"{case}: your output has shape {tuple(got)}; "
                              f"{case.reference_name} gives {want}.")


#: the smallest batch of a fixed example (a whole network) that also takes a training step:
#: BatchNorm trains on batch statistics, and every network check has such an example, so a
#: batch of one would add a backward pass (a second for VGG) and nothing else; generated
#: cases (blocks) are cheap, and every one takes a step
TRAIN_BATCH = 2


@dataclasses.dataclass
class SameFunctionCheck(ModuleCheck):
    """The reference's function, with its (generated) weights copied in, matched by
    ``state_dict`` name or by order: the output in eval mode and float64 (a failure
    names the first layer off), then one training step's forward and backward pass
    (output, every gradient, BatchNorm's running statistics): on every generated case,
    and on the fixed examples (whole networks) with a batch of ``TRAIN_BATCH`` or more.
    In grading, a public run leaves to the hidden run that follows it the examples that
    run repeats, and the training steps of generated cases."""
    seeded = True
    #: how many fixed examples (whole networks) the hidden run repeats under the secret
    #: seed, the largest of those that train first: the public run compares them all,
    #: and one secret run defeats recorded answers
    hidden_examples: int = 1
    #: set for the public run of generated cases that a hidden run follows
    #: (``Profile.hidden_follows``): the hidden run draws its own, and takes their steps
    defer_training: bool = dataclasses.field(default=False, repr=False)

    def profile_key(self, profile: Profile):
        return profile.name, profile.hidden_follows

    def _repeated(self) -> list:
        """The fixed examples the hidden run repeats."""
        largest = sorted(self.examples, key=lambda case: (
            case.input_shape[0] < TRAIN_BATCH, -math.prod(case.input_shape)))
        return largest[:self.hidden_examples]

    def _run(self, target: Target, profile: Profile) -> int:
        if self.strategy is None and profile.hidden:
            return ModuleCheck._run(dataclasses.replace(self, examples=self._repeated()),
                                    target, profile)
        if profile.hidden_follows and self.strategy is None:
            # Grading: the hidden run repeats these under the secret seed, where a model
            # fails what it fails here; counted as feedback counts them.
            repeated = self._repeated()
            rest = [case for case in self.examples if case not in repeated]
            return ModuleCheck._run(dataclasses.replace(self, examples=rest), target,
                                    profile) + len(repeated)
        if profile.hidden_follows:
            return ModuleCheck._run(dataclasses.replace(self, defer_training=True),
                                    target, profile)
        return super()._run(target, profile)

    def _trains(self, case) -> bool:
        """Whether this run takes ``case``'s training step (see ``TRAIN_BATCH``)."""
        if self.defer_training:
            return False
        return self.strategy is not None or case.input_shape[0] >= TRAIN_BATCH

    diagnoses = WrongModel

    def _agrees(self, mistake: WrongModel, observed: Observations) -> bool:
        """The mistaken model, with the same weights, gives the student's outputs: in eval
        mode, and in the training step where the student's model took one."""
        for case, seed, got in observed:
            trained = isinstance(got.get("train"), dict) and "out" in got["train"]
            theirs = R.model_function(mistake.build(case.reference), tuple(case.input_shape),
                                      seed, trained)
            step = theirs["train"] or {}
            if trained and "out" not in step:  # the mistaken model could not take the step
                return False
            try:
                compare_array(theirs["out"], got["out"], context="")
                if trained:
                    compare_array(step["out"], got["train"]["out"], context="")
            except CheckFailed:
                return False
        return True

    def _one(self, target: Target, case, seed: int) -> None:
        shape = tuple(case.input_shape)
        want = R.model_function(case.reference, shape, seed, self._trains(case))
        spec = R.model_structure(case.reference)["entries"]
        got = self._probe(target, "function", case, spec=spec, seed=seed,
                          x=R.model_input(shape, seed), train=want["train"] is not None)
        copied = f"with {case.reference_name}'s weights copied into yours"
        try:
            compare_array(want["out"], got["out"],
                          context=f"{case}, in eval mode and float64, {copied}.")
        except CheckFailed as failure:
            observe((case, seed, got), correct=False)
            raise CheckFailed(f"{failure}\n{_first_layer_off(got['layers'], want['layers'])}"
                              ) from None
        if want["train"] is not None:
            try:
                _compare_train_step(case, spec, want["train"], got.get("train"), copied)
            except CheckFailed:
                # evidence only where the training step's output differs: a mistake can
                # explain an output, not a backward pass that raised or a gradient alone
                if _output_differs(want["train"], got.get("train")):
                    observe((case, seed, got), correct=False)
                raise
        observe((case, seed, got), correct=True)


def _output_differs(want: dict, got) -> bool:
    """Whether a training step reported an output, and one unlike the reference's."""
    if not (isinstance(got, dict) and "out" in got):
        return False
    try:
        compare_array(want["out"], got["out"], context="")
    except CheckFailed:
        return True
    return False


def _compare_train_step(case, spec: list, want: dict, got, copied: str) -> None:
    """One training step of the student's model against the reference's (see
    ``grader.probes.train_step``); the eval-mode outputs already agree."""
    where = (f"{case}, in train mode (BatchNorm normalises with the batch's statistics, "
             f"dropout is on, with the same random seed as the reference), {copied}")
    if not isinstance(got, dict):
        raise CheckFailed(f"{where}: no training step was reported.")
    if "error" in got:
        hint = (" An in-place operation (`out += identity`, `x.relu_()`, `inplace=True` on a "
                "tensor autograd still needs) overwrote a value that backward uses: write "
                "`out = out + identity` instead." if "inplace" in got["error"] else "")
        raise CheckFailed(f"{where}: the reference trains, but your model's forward or "
                          f"backward pass raised {got['error']}.{hint}")
    try:
        compare_array(want["out"], got.get("out"), context=where + ".")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}\nIn eval mode the outputs agree, so look at what only "
                          "training changes: dropout (where, and its p) and BatchNorm.") from None
    mine = got.get("entries")
    if not isinstance(mine, list) or len(mine) != len(spec):
        raise CheckFailed(f"{where}: the training step reported no gradients.")
    for (name, _), (kind, ref_sig), row in zip(spec, want["entries"], mine):
        problem = _entry_problem(name, kind, ref_sig, row)
        if problem:
            raise CheckFailed(f"{where}, loss = sum(w * output) for fixed positive w: {problem}")


def _entry_problem(name: str, kind: str, ref_sig, row) -> str | None:
    """What is wrong with one state_dict entry after the training step, or None."""
    if not (isinstance(row, list) and len(row) == 2 and row[0] in ("grad", "value")):
        return f"nothing was reported for `{name}`."
    if row[0] != kind:
        return (f"the reference's `{name}` is a {'parameter' if kind == 'grad' else 'buffer'}, "
                f"yours is a {'parameter' if row[0] == 'grad' else 'buffer'}.")
    sig = row[1]
    if ref_sig is None:  # the reference does not use it either
        return None
    if sig is None:
        return (f"the tensor that takes the reference's `{name}` gets no gradient (is it used "
                "in forward, and does it require grad?).")
    ok = (isinstance(sig, list) and len(sig) == 2 and all(isinstance(v, float) for v in sig)
          and all(abs(a - b) <= 1e-8 * ref_sig[0] + 1e-12 for a, b in zip(sig, ref_sig)))
    if ok:
        return None
    if kind == "grad":
        return (f"the gradient of the tensor that takes the reference's `{name}` differs from "
                "the reference's, though the outputs agree: is something detached, or "
                "computed outside autograd?")
    return (f"after the step, `{name}` differs from the reference's: BatchNorm's running "
            "statistics (its momentum, or what it normalises).")


#: tensors with fewer values are compared only as constant or random: their statistics
#: vary too much from one draw to the next to tell initialisations apart with certainty
INIT_COMPARED = 4096


@dataclasses.dataclass
class InitCheck(ModuleCheck):
    """The initial state, layer by layer, as the reference's: constants (BatchNorm's 1 and 0,
    ``zero_init_residual``) exactly; random weights by their statistics (scale, family, mean),
    within six standard errors, so a right initialisation fails with probability < 1e-8."""
    #: how the reference initialises its weights, said when a scale differs
    hint: str = ""

    def _one(self, target: Target, case, seed: int) -> None:
        want = R.model_init(case.reference, seed)["entries"]
        spec = R.model_structure(case.reference)["entries"]
        got = self._probe(target, "init", case, spec=spec, seed=seed)["entries"]
        if len(got) != len(spec):
            raise CheckFailed(f"{case}: the initial state of {len(got)} tensors was reported, "
                              f"for {len(spec)}.")
        for (name, shape), theirs, mine in zip(spec, want, got):
            problem = _init_problem(name, shape, theirs, [float(v) for v in mine], self.hint)
            if problem:
                raise CheckFailed(f"{case}, as built (before any training): {problem}")


def _init_problem(name: str, shape: list, theirs: list, mine: list,
                  hint: str = "") -> str | None:
    mean, std, kurtosis, low, high = theirs
    m_mean, m_std, m_kurtosis, m_low, m_high = mine
    if low == high:
        if m_low == m_high == low:
            return None
        return (f"`{name}` must start at {low:g} everywhere, as the reference's does; yours "
                f"ranges over [{m_low:.4g}, {m_high:.4g}].")
    if m_low == m_high:
        return (f"`{name}` starts at {m_low:g} everywhere; the reference's starts random "
                f"(standard deviation {std:.4g}).")
    n = sampled(math.prod(shape))
    if n < INIT_COMPARED:
        return None
    if abs(m_std - std) > 6 * std * math.sqrt(max(kurtosis - 1, 0.1) / (4 * n)):
        return (f"`{name}` starts with standard deviation {m_std:.4g}; the reference's "
                f"initialisation gives {std:.4g}." + (f" {hint}" if hint else ""))
    if abs(m_kurtosis - kurtosis) > 6 * math.sqrt(24 / n) + 0.05:
        return (f"`{name}` starts with values distributed unlike the reference's: kurtosis "
                f"{m_kurtosis:.3g} against {kurtosis:.3g} (uniform 1.8, normal 3).")
    if abs(m_mean - mean) > 6 * std / math.sqrt(n):
        return f"`{name}` starts with mean {m_mean:.4g}; the reference's is {mean:.4g}."
    return None


@dataclasses.dataclass
class ZeroGammaCheck(ModuleCheck):
    """With its last BatchNorm zeroed, a residual block is ``relu(x)``."""

    def _one(self, target: Target, case, seed: int) -> None:
        x = R.model_input(case.input_shape, seed)
        got = self._probe(target, "zero_last_norm", case, x=x)
        compare_array(np.maximum(x, 0.0), got["out"], context=(
            f"{case}, eval mode, with the scale and shift of its last BatchNorm set to zero: "
            "the residual branch then adds nothing, so the block must return relu(x)."))


@dataclasses.dataclass
class GradientFlowCheck(ModuleCheck):
    """Every parameter gets a gradient in a training step, and nothing is NaN or infinite."""

    def _one(self, target: Target, case, seed: int) -> None:
        got = self._probe(target, "gradients", case, x=R.model_input(case.input_shape, seed))
        norms = [g for _, trainable, g in got["grads"] if trainable and g is not None]
        stuck = [n for n, trainable, g in got["grads"] if trainable and not (g and g > 0)]
        if stuck:
            raise CheckFailed(f"{case}: these parameters get no gradient in a training step, so "
                              "they never learn (are they used in forward?): "
                              + ", ".join(f"`{n}`" for n in stuck[:8]))
        if not (np.isfinite(got["out"]).all() and np.isfinite(norms).all()):
            raise CheckFailed(f"{case}: the output or a gradient is NaN or infinite.")


@dataclasses.dataclass
class OutputPropertyCheck(ModuleCheck):
    """``judge(case, x, y)`` holds for the output ``y`` of the student's model (its own
    seeded initialisation, eval mode, float64) on the input ``x``; it returns what is
    wrong, or None.  For properties that hold for any weights: an SE block only rescales
    channels, a dense block keeps its input."""
    judge: Callable = None

    def _one(self, target: Target, case, seed: int) -> None:
        x = R.model_input(case.input_shape, seed)
        y = self._probe(target, "run", case, x=x)["out"]
        problem = self.judge(case, x, y)
        if problem:
            raise CheckFailed(f"{case}, in eval mode and float64: {problem}")
