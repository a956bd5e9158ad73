"""Which outcomes of a test send are failures: one rule for the CLI's exit code and the ribbon's dialog."""

from __future__ import annotations

import pytest

from pecmass_xl.core import vocabulary as v
from pecmass_xl.sending import trial_send


def _result(status: str):
    return trial_send.TrialSendOutcome("P1", "prova@pec.it", status, "", "<id@x>", None, [])


@pytest.mark.parametrize("status", [v.ST_INVALID, v.ST_REFUSED, v.ST_TO_SEND, v.ST_UNCERTAIN])
def test_not_handed_over_or_unknown_is_a_failure(status):
    assert _result(status).failed


@pytest.mark.parametrize("status", [v.ST_SENT, v.ST_ACCEPTED, v.ST_DELIVERED, v.ST_ACCEPTED_EXTERNAL])
def test_handed_over_is_not_a_failure(status):
    assert not _result(status).failed
