"""The orchestrator graph, wired like the diagram in DESIGN.md."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.state import InputState, ServedOutput, State
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.steps.runner import StepRunner, held_to_server
from phasegraph.graph.steps.take_over import on_this_machine
from phasegraph.nodes.approve import make_approve
from phasegraph.nodes.checkout import checkout
from phasegraph.nodes.commit import make_commit, route_commit
from phasegraph.nodes.consolidate import make_consolidate_phase
from phasegraph.nodes.consolidation import Consolidator, make_consolidation, recipe_consolidator
from phasegraph.nodes.gate import gate, route_gate
from phasegraph.nodes.planner import make_planner
from phasegraph.nodes.push import push, route_push
from phasegraph.nodes.reads import make_reads
from phasegraph.nodes.report import report, stop_and_report
from phasegraph.nodes.verifies import make_verify
from phasegraph.nodes.writer import build_writer
from phasegraph.recipes.registry import RecipeRegistry
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry, default_registry

Orchestrator = CompiledStateGraph[State, RunOptions, InputState, State]


def build_orchestrator(
    registry: SkillRegistry | None = None,
    *,
    checkpointer: BaseCheckpointSaver[Any] | bool | None = None,
    store: BaseStore | None = None,
    consolidator: Consolidator | None = None,
    recipes: RecipeRegistry | None = None,
    model: BaseChatModel | None = None,
    planner_model: BaseChatModel | None = None,
    consolidator_model: BaseChatModel | None = None,
    approve_writes: bool = False,
    read_concurrency: int = 8,
    name: str = "phasegraph",
    served: bool = False,
) -> Orchestrator:
    """Build the compiled orchestrator graph.

    Args:
        registry: the skills plans may use (default: the built-ins).
        checkpointer: where state is kept between steps (``None``: none, or the
            parent's when used as a subgraph).
        store: where large step outputs and the write journal are kept (default: an
            in-memory store).
        consolidator: turns read findings into write steps (default: the plan's recipe).
        recipes: the recipes plans may name (default: the process-wide registry, the
            built-ins and every :func:`~phasegraph.register_recipe`).
        model: a chat model (any langchain-core ``BaseChatModel``) that plans requests and
            turns findings into writes: the default of the two below.
        planner_model: the model that turns a ``request`` into the plan (one call, plus one
            per rejected plan).
        consolidator_model: the model that turns the reads' findings into the writes, for
            plans with reads and no recipe (one call, plus one per rejected answer).
        approve_writes: pause (LangGraph ``interrupt``) once the plan is final, before the
            first write, until a person approves every write; without a ``checkpointer``
            the pause is kept in memory.
        read_concurrency: at most this many reads/checks run at once.
        served: for LangGraph's server, which brings its own checkpointer and store
            and refuses a graph that compiles in either: neither is compiled in. A served
            run's context comes from a client: it may tighten the guards, never loosen them
            (:func:`~phasegraph.graph.model.context.served_options`), and its output is
            :class:`~phasegraph.graph.model.state.ServedOutput` (the report and the run's ids).

    Invoke it with ``{"plan": {...}, "workspace": "/path"}`` and optionally
    ``context=RunOptions(strict=True)``; stream with ``stream_mode="custom"``
    for per-step events.
    """
    skills = registry if registry is not None else default_registry()
    planner_model = planner_model or model
    consolidator_model = consolidator_model or model
    to_writes = "approve" if approve_writes else "writer"
    if approve_writes and checkpointer is None and not served:
        checkpointer = InMemorySaver()  # a pause needs somewhere to wait

    def route_start(state: State) -> Literal["checkout", "planner"]:
        return "checkout" if state.get("repo") else "planner"

    def route_checkout(state: State) -> Literal["planner", "stop_and_report"]:
        return "stop_and_report" if state.get("failure") else "planner"

    def route_planner(state: State) -> Literal["reads", "consolidate", "stop_and_report"]:
        if state.get("failure"):
            return "stop_and_report"
        return "reads" if steps_of(state, skills, SkillKind.READ) else "consolidate"

    def route_reads(state: State) -> Literal["consolidate", "stop_and_report"]:
        return "stop_and_report" if state.get("failure") else "consolidate"

    def route_consolidate(state: State) -> str:
        return "stop_and_report" if state.get("failure") else to_writes

    def route_approve(state: State) -> Literal["writer", "stop_and_report"]:
        return "stop_and_report" if state.get("failure") else "writer"

    def route_writer(state: State) -> str:
        if state.get("failure"):
            return "stop_and_report"
        return "verify" if steps_of(state, skills, SkillKind.VERIFY) else "gate"

    def route_after_gate(state: State) -> str:
        return route_gate(state, commits=bool(steps_of(state, skills, SkillKind.COMMIT)))

    runner = StepRunner(skills, start_ahead=not approve_writes, served=served)
    # Served: a client gets the report and the run's ids, not the internal state (the
    # thread's state still holds it all); library and CLI callers get the whole state.
    output: type[Any] = ServedOutput if served else State
    builder = StateGraph(
        State, context_schema=RunOptions, input_schema=InputState, output_schema=output
    )

    def held(node: StateNode) -> StateNode:
        """Served, every node that reads the options runs with them held to the server's
        limits (the planner checks them first; the writer's steps in the runner). A remote
        run's node runs on this worker's clone (made again here if another worker made it)."""
        here = on_this_machine(node, runner)
        return held_to_server(here) if served else here

    builder.add_node("checkout", held_to_server(checkout) if served else checkout)
    planner = make_planner(skills, planner_model, served=served, recipes=recipes)
    builder.add_node("planner", on_this_machine(planner, runner))  # it holds the options itself
    concurrency = max(1, read_concurrency)
    consolidation = make_consolidation(
        runner, consolidator or recipe_consolidator(recipes), consolidator_model, served=served
    )
    reads = make_reads(
        runner, concurrency, consolidation, model_given=consolidator_model is not None
    )
    builder.add_node("reads", held(reads))
    builder.add_node(
        "consolidate", held(make_consolidate_phase(runner, consolidation, concurrency))
    )
    if approve_writes:
        builder.add_node("approve", held(make_approve(skills)))
    builder.add_node("writer", build_writer(runner))  # on the clone by itself: a subgraph's node
    builder.add_node("verify", held(make_verify(runner, concurrency)))
    builder.add_node("gate", gate)
    builder.add_node("commit", held(make_commit(runner)))
    builder.add_node("push", held(push))
    # The report is built whether or not a clone can be made here (it removes it anyway).
    builder.add_node("report", on_this_machine(report, runner, takes_over=False))
    builder.add_node("stop_and_report", on_this_machine(stop_and_report, runner, takes_over=False))

    builder.add_conditional_edges(START, route_start, ["checkout", "planner"])
    builder.add_conditional_edges("checkout", route_checkout, ["planner", "stop_and_report"])
    builder.add_conditional_edges(
        "planner", route_planner, ["reads", "consolidate", "stop_and_report"]
    )
    builder.add_conditional_edges("reads", route_reads, ["consolidate", "stop_and_report"])
    builder.add_conditional_edges("consolidate", route_consolidate, [to_writes, "stop_and_report"])
    if approve_writes:
        builder.add_conditional_edges("approve", route_approve, ["writer", "stop_and_report"])
    builder.add_conditional_edges("writer", route_writer, ["verify", "gate", "stop_and_report"])
    builder.add_edge("verify", "gate")
    builder.add_conditional_edges("gate", route_after_gate, ["commit", "report", "stop_and_report"])
    builder.add_conditional_edges("commit", route_commit, ["push", "report", "stop_and_report"])
    builder.add_conditional_edges("push", route_push, ["report", "stop_and_report"])
    builder.add_edge("report", END)
    builder.add_edge("stop_and_report", END)

    if served:
        checkpointer, store = None, None
    elif store is None:
        store = InMemoryStore()
    # No graph-wide max_concurrency: the read, baseline and verify jobs are bounded by
    # ``concurrency`` themselves, and LangGraph's bound would count the node they run in.
    return builder.compile(checkpointer=checkpointer, store=store, name=name)
