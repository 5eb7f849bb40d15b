"""Deprecated path: the event shapes live in :mod:`phasegraph.graph.model.events`."""

from phasegraph.skills.core.moved import forwarder

__getattr__ = forwarder(__name__, "phasegraph.graph.model.events")
