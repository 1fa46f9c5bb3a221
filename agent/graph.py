"""The reasoning graph: retrieve -> decompose -> formulate -> solve -> (repair) -> answer.

Each node is a function ``state -> partial state``; ``build_graph`` compiles them once.

- retrieve: KB hybrid search for exemplars (NesyCD: specialised knowledge lives in the KB);
- decompose: Socratic CoT sub-questions (socratic mode only);
- formulate: the student writes a program (PaD python, ASP facts for a rule library,
  or Prolog), syntax-checked and resampled when it does not parse;
- solve: a solver runs it; the answer comes from the solver, not from the model;
- repair: the solver's error goes back to the student, at most ``max_repairs`` times
  (Logic-LM self-refinement);
- fallback: a direct answer, not grounded, when no program worked;
- answer: majority vote over solver answers (PoT maj@k), normalised by answer type.
"""

from __future__ import annotations

import ast
import collections
import functools
import operator
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from agent import prompts
from agent.modes import MODES
from agent.normalize import AnswerType, normalize
from agent.records import FailureClass, Step
from solvers import SolverRequest, SolverResult, solve

Mode = Literal["auto", "pad", "socratic", "asp", "spatial", "prolog", "direct"]
RULES = Path(__file__).with_name("rules")
_FENCE = re.compile(r"```[a-zA-Z]*\n(.*?)(?:```|$)", re.S)


@dataclass(frozen=True)
class ModeSpec:
    template: str
    solver: str | None
    language: str  # of the fenced block
    rules: str | None = None
    answer_type: AnswerType = "number"


MODE_SPECS: dict[str, ModeSpec] = {
    "pad": ModeSpec("pad", "python", "python"),
    "socratic": ModeSpec("pad", "python", "python"),
    "asp": ModeSpec("asp_kinship", "asp", "prolog", rules="kinship.lp", answer_type="label"),
    "spatial": ModeSpec("asp_spatial", "asp", "prolog", rules="spatial.lp", answer_type="label"),
    "prolog": ModeSpec("prolog", "prolog", "prolog", answer_type="label"),
    "direct": ModeSpec("direct", None, "", answer_type="number"),
}
TASK_MODES = {"math": "pad", "kinship": "asp", "deductive": "prolog", "spatial": "spatial"}
# What a direct (or fallback) answer is read as, by task type; a solver mode's own type wins.
TASK_ANSWER_TYPES: dict[str, AnswerType] = {
    "math": "number", "kinship": "label", "deductive": "label", "spatial": "label",
    "fol": "label", "yesno": "yesno",
}  # fmt: skip


@dataclass(frozen=True)
class AgentConfig:
    """Knobs of one agent; every field can be overridden per call or from ``nesy.toml``."""

    mode: str = "auto"
    task: str = "math"
    max_repairs: int = 2
    vote_k: int = 1
    vote_temperature: float = 0.7
    max_new_tokens: int = 256
    syntax_retries: int = 2
    exemplars: int = 2
    solver_timeout_s: float = 5.0
    question_timeout_s: float = 120.0
    token_budget: int = 4096
    seed: int = 0
    recursion_limit: int = 40

    def resolved_mode(self) -> str:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; known: {', '.join(MODES)}")
        return TASK_MODES.get(self.task, "direct") if self.mode == "auto" else self.mode


class State(TypedDict, total=False):
    question: str
    task: str
    mode: str
    started: float
    exemplars: str
    sub_questions: list[str]
    programs: list[str]
    raw_outputs: Annotated[list[str], operator.add]
    steps: Annotated[list[dict[str, Any]], operator.add]
    results: list[dict[str, Any]]
    repairs: int
    prompt_tokens: Annotated[int, operator.add]
    completion_tokens: Annotated[int, operator.add]
    answer: Any
    answer_type: str
    grounded: bool
    failure: str | None
    prompt_id: str


@functools.lru_cache(maxsize=16)
def rule_library(name: str) -> str:
    return (RULES / name).read_text()


def extract_program(text: str, language: str) -> str:
    """The first fenced block, else the whole reply (small models often drop the fence)."""
    blocks = _FENCE.findall(text)
    return (blocks[0] if blocks else text).strip() + "\n"


def syntax_ok(program: str, language: str) -> bool:
    if language == "python":
        try:
            ast.parse(program)
        except (SyntaxError, ValueError):
            return False
        return True
    return program.strip().endswith(".")  # Prolog/ASP clauses end with a full stop


def _step(node: str, t0: float, **kw: Any) -> dict[str, Any]:
    return Step(node=node, seconds=time.perf_counter() - t0, **kw).model_dump(mode="json")


def build_graph(
    student: Any, kb: Any = None, config: AgentConfig | None = None, checkpointer: Any = None
) -> Any:
    """Compile the graph for one student, KB and config."""
    from langgraph.graph import END, START, StateGraph

    cfg = config or AgentConfig()

    def budget_left(state: State) -> bool:
        spent = state.get("prompt_tokens", 0) + state.get("completion_tokens", 0)
        elapsed = time.time() - state.get("started", time.time())
        return spent < cfg.token_budget and elapsed < cfg.question_timeout_s

    def generate(
        messages: list[Any],
        n: int = 1,
        temperature: float = 0.0,
        seed: int = 0,
        language: str | None = None,
    ) -> list[Any]:
        stop = None
        if language and getattr(student, "prefill", True):
            # Prefill the opening fence and stop at the closing one: the reply is the
            # program alone, and no tokens go to prose after it.
            messages = [
                [*m, {"role": "assistant", "content": f"```{language}\n"}] for m in messages
            ]
            stop = ["```"]
        return list(
            student.generate(
                messages * n if n > 1 else messages,
                max_new_tokens=cfg.max_new_tokens,
                temperature=temperature,
                seed=seed,
                stop=stop,
            )
        )

    def retrieve(state: State) -> State:
        t0 = time.perf_counter()
        spec = MODE_SPECS[state["mode"]]
        if kb is None or cfg.exemplars < 1 or spec.solver is None:
            return {"exemplars": ""}
        hits = kb.search(state["question"], mode="hybrid", k=cfg.exemplars, kinds=["exemplar"])
        shots = "".join(
            f"Question: {h.item.text}\n```{spec.language}\n{h.item.program.strip()}\n```\n\n"
            for h in hits
        )
        return {"exemplars": shots, "steps": [_step("retrieve", t0, text=f"{len(hits)} exemplars")]}

    def decompose(state: State) -> State:
        t0 = time.perf_counter()
        tpl = prompts.load("socratic")
        (g,) = generate([tpl.messages(question=state["question"], exemplars="")])
        subs = [s.strip()[2:].strip() for s in g.text.splitlines() if s.strip().startswith("Q:")]
        return {
            "sub_questions": subs,
            "raw_outputs": [g.text],
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "steps": [_step("decompose", t0, text="\n".join(subs))],
        }

    def formulate(state: State) -> State:
        t0 = time.perf_counter()
        spec = MODE_SPECS[state["mode"]]
        tpl = prompts.load(spec.template)
        question = state["question"]
        if state.get("sub_questions"):
            question += "\nSub-questions:\n" + "\n".join(f"- {q}" for q in state["sub_questions"])
        messages = tpl.messages(question=question, exemplars=state.get("exemplars", ""))
        k = max(1, cfg.vote_k)
        outs = generate(
            [messages],
            n=k,
            temperature=cfg.vote_temperature if k > 1 else 0.0,
            seed=cfg.seed,
            language=spec.language,
        )
        programs, raw = [], []
        ptok = sum(g.prompt_tokens for g in outs)
        ctok = sum(g.completion_tokens for g in outs)
        for i, g in enumerate(outs):
            program, text = extract_program(g.text, spec.language), g.text
            for retry in range(cfg.syntax_retries):  # syntax check with resampling
                if syntax_ok(program, spec.language):
                    break
                (g,) = generate(
                    [messages],
                    temperature=0.8,
                    seed=cfg.seed + 1000 * (i + 1) + retry,
                    language=spec.language,
                )
                program, text = extract_program(g.text, spec.language), g.text
                ptok, ctok = ptok + g.prompt_tokens, ctok + g.completion_tokens
            programs.append(program)
            raw.append(text)
        return {
            "programs": programs,
            "raw_outputs": raw,
            "prompt_id": tpl.id,
            "prompt_tokens": ptok,
            "completion_tokens": ctok,
            "steps": [_step("formulate", t0, program=p, solver=spec.solver) for p in programs],
        }

    def run_solver(state: State) -> State:
        t0 = time.perf_counter()
        spec = MODE_SPECS[state["mode"]]
        assert spec.solver is not None
        library = rule_library(spec.rules) if spec.rules else ""
        results = []
        for program in state["programs"]:
            if spec.rules:  # the student wrote facts; the library does the reasoning
                req = SolverRequest(
                    solver=spec.solver,
                    program=library,
                    facts=program,
                    timeout_s=cfg.solver_timeout_s,
                )
            else:
                req = SolverRequest(
                    solver=spec.solver, program=program, timeout_s=cfg.solver_timeout_s
                )
            results.append(solve(req))
        return {
            "results": [r.model_dump(mode="json") for r in results],
            "steps": [
                _step(
                    "solve",
                    t0,
                    program=p,
                    solver=spec.solver,
                    result=r,
                    repair=state.get("repairs", 0),
                )
                for p, r in zip(state["programs"], results, strict=True)
            ],
        }

    def after_solve(state: State) -> str:
        if any(r["status"] == "ok" for r in state["results"]):
            return "answer"
        if state.get("repairs", 0) < cfg.max_repairs and budget_left(state):
            return "repair"
        return "fallback"

    def repair(state: State) -> State:
        t0 = time.perf_counter()
        tpl = prompts.load("repair")
        failed = next(r for r in state["results"] if r["status"] != "ok")
        program = state["programs"][state["results"].index(failed)]
        error = f"{failed['status']}: {failed['detail']}"[:600]
        language = MODE_SPECS[state["mode"]].language
        (g,) = generate(
            [tpl.messages(question=state["question"], program=program.strip(), error=error)],
            language=language,
        )
        fixed = extract_program(g.text, language)
        return {
            "programs": [fixed],
            "raw_outputs": [g.text],
            "repairs": state.get("repairs", 0) + 1,
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "steps": [
                _step("repair", t0, program=fixed, text=error, repair=state.get("repairs", 0) + 1)
            ],
        }

    def fallback(state: State) -> State:
        t0 = time.perf_counter()
        tpl = prompts.load("direct")
        (g,) = generate([tpl.messages(question=state["question"], exemplars="")])
        text = g.text.rsplit("Answer:", 1)[-1].strip()
        spec = MODE_SPECS[state["mode"]]
        answer_type = (
            TASK_ANSWER_TYPES.get(state.get("task", ""), spec.answer_type)
            if spec.solver is None
            else spec.answer_type
        )
        results = state.get("results") or []
        failure: FailureClass | None = (
            None
            if state["mode"] == "direct"  # the baseline: no solver was ever meant to run
            else FailureClass.timeout
            if any(r["status"] == "timeout" for r in results)
            else FailureClass.fallback_used
        )
        return {
            "answer": normalize(text, answer_type),
            "answer_type": answer_type,
            "grounded": False,
            "failure": failure.value if failure else None,
            "raw_outputs": [g.text],
            "prompt_id": state.get("prompt_id") or tpl.id,
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "steps": [_step("fallback", t0, text=text)],
        }

    def answer(state: State) -> State:
        t0 = time.perf_counter()
        spec = MODE_SPECS[state["mode"]]
        values = [
            _solver_answer(SolverResult(**r), spec.answer_type)
            for r in state["results"]
            if r["status"] == "ok"
        ]
        values = [v for v in values if v is not None]
        if not values:
            return {
                "answer": None,
                "answer_type": spec.answer_type,
                "grounded": False,
                "failure": FailureClass.solver_error.value,
                "steps": [_step("answer", t0, text="no usable solver answer")],
            }
        best, votes = collections.Counter(values).most_common(1)[0]
        return {
            "answer": best,
            "answer_type": spec.answer_type,
            "grounded": True,
            "failure": None,
            "steps": [_step("answer", t0, text=f"{best} ({votes}/{len(values)} votes)")],
        }

    g = StateGraph(State)
    for name, fn in [
        ("retrieve", retrieve),
        ("decompose", decompose),
        ("formulate", formulate),
        ("solve", run_solver),
        ("repair", repair),
        ("fallback", fallback),
        ("answer", answer),
    ]:
        g.add_node(name, fn)
    g.add_edge(START, "retrieve")
    g.add_conditional_edges(
        "retrieve",
        lambda s: (
            "fallback"
            if s["mode"] == "direct"
            else "decompose"
            if s["mode"] == "socratic"
            else "formulate"
        ),
        ["fallback", "decompose", "formulate"],
    )
    g.add_edge("decompose", "formulate")
    g.add_edge("formulate", "solve")
    g.add_conditional_edges("solve", after_solve, ["answer", "repair", "fallback"])
    g.add_edge("repair", "solve")
    g.add_edge("fallback", END)
    g.add_edge("answer", END)
    return g.compile(checkpointer=checkpointer)


def _solver_answer(result: SolverResult, answer_type: AnswerType) -> Any:
    value = result.answer
    if result.solver == "asp" and isinstance(value, list) and value:
        atoms = [a for a in value[0] if a.startswith("answer(")]
        if len(atoms) != 1:
            return None
        value = atoms[0][len("answer(") : -1]
    if isinstance(value, list):  # several solutions (prolog) or roots: not one answer
        return None
    if answer_type == "label" and isinstance(value, str):
        value = value.replace("_", "-")
    return normalize(value, answer_type)
