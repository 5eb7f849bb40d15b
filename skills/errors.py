"""Deprecated path: the errors live in :mod:`phasegraph.skills.core.errors` (and are public as
``from phasegraph import SkillError, ...``)."""

from phasegraph.skills.core.moved import forwarder

__getattr__ = forwarder(__name__, "phasegraph.skills.core.errors")
