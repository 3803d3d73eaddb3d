import warmup.errors as errors


def test_public_names_are_pinned() -> None:
    assert sorted(errors.__all__) == [
        "AmbiguousSendError",
        "ConfigError",
        "ContentError",
        "NotFoundError",
        "NotSent",
        "PermanentSendError",
        "PlanError",
        "SendError",
        "ThrottledError",
        "TransientSendError",
        "TransitionError",
        "TransportSetupError",
        "WarmupError",
    ]


def test_every_error_derives_from_the_one_base() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.WarmupError)


def test_only_send_errors_worth_retrying_say_so() -> None:
    assert errors.ThrottledError("x", retry_after=1).retryable
    assert errors.TransientSendError("x").retryable
    assert not errors.AmbiguousSendError("x").retryable  # ask ACS first, never blindly
    assert not errors.PermanentSendError("x").retryable


def test_plan_error_keeps_every_problem() -> None:
    error = errors.PlanError(["a.yaml: steps[0]: bad", "a.yaml: gates: worse"])
    assert error.problems == ["a.yaml: steps[0]: bad", "a.yaml: gates: worse"]
    assert "steps[0]" in str(error)
    assert "gates" in str(error)
