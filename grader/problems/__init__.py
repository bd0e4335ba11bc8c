"""One module per problem set; each defines ``PROBLEM_SET`` and ``check``.

Problem sets only *call* the machinery: checks come from ``grader.checks``,
inputs from ``grader.strategies``, expected values from ``grader.references``.
"""

AVAILABLE = (
    "ps01_convolution",
    "ps02_convolution_zoo",
    "ps03_lenet_alexnet",
    "ps04_vgg_googlenet",
    "ps05_resnet_resnext",
    "ps06_densenet_dpn",
    "ps07_inception_v4_senet",
    "ps08_efficient_nets",
    "ps09_training_transfer",
)


def lazy_problem_set(module_name: str, build):
    """``(check, progress, __getattr__)`` for a problem-set module whose checks are built lazily.

    ``PROBLEM_SET`` becomes a module attribute on first access (PEP 562),
    ``check(check_id, profile="quick")`` runs a check from a notebook cell, and
    ``progress()`` prints the points passing so far (the notebook's last cell).
    """
    import sys

    cache = {}
    ps_name = module_name.rsplit(".", 1)[1]

    def problem_set():
        if "ps" not in cache:
            cache["ps"] = build()
        return cache["ps"]

    def check(check_id: str, profile: str = "quick") -> None:
        __tracebackhide__ = True  # noqa: F841
        from ..kernel import check_in_kernel
        check_in_kernel(problem_set, ps_name, check_id, profile, sys._getframe(1).f_globals)

    def progress() -> None:
        from .. import kernel
        print(kernel.progress(ps_name))

    def __getattr__(name):
        if name == "PROBLEM_SET":
            return problem_set()
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return check, progress, __getattr__
