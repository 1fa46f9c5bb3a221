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
- resample: with ``resample_k``, math answers none of which is a whole, non-negative
  number (a count) send the student back for that many sampled programs; only whole
  answers vote then;
- answer: majority vote over solver answers (PoT maj@k), normalised by answer type.
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from agent import render, theory, verify
from agent.config import AgentConfig
from agent.modes import MODE_SPECS, MODES, TASK_ANSWER_TYPES, TASK_MODES, ModeSpec, rule_library
from agent.normalize import normalize
from agent.records import FailureClass, Step
from agent.render import extract_program, syntax_ok
from solvers import SolverRequest, SolverResult, solve

__all__ = [
    "MODE_SPECS", "MODES", "TASK_ANSWER_TYPES", "TASK_MODES", "AgentConfig", "ModeSpec",
    "build_graph", "extract_program", "rule_library", "syntax_ok",
]  # fmt: skip


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
    attempts: Annotated[list[dict[str, Any]], operator.add]
    completed: bool  # a story's units were completed once (``complete_units``)
    resampled: bool  # programs were sampled again for a whole answer (``resample``)


def _step(node: str, t0: float, **kw: Any) -> dict[str, Any]:
    return Step(node=node, seconds=time.perf_counter() - t0, **kw).model_dump(mode="json")


def _budget_left(ctx: Context, state: State) -> bool:
    spent = state.get("prompt_tokens", 0) + state.get("completion_tokens", 0)
    elapsed = time.time() - state.get("started", time.time())
    return spent < ctx.cfg.token_budget and elapsed < ctx.cfg.question_timeout_s


def _generate(
    ctx: Context,
    messages: list[Any],
    n: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    language: str | None = None,
    skill: str | None = None,
    max_new_tokens: int | None = None,
    prefills: Sequence[str] = (),
) -> list[Any]:
    """One batched model call. ``skill``: the mode whose adapter should write the reply,
    for a student that has per-mode adapters (the packaged default); others ignore it.
    ``prefills``: per message, the start of the program that the reply continues."""
    stop = None
    extra = {"skill": skill} if getattr(ctx.student, "uses_skills", False) else {}
    if language and getattr(ctx.student, "prefill", True):
        # Prefill the opening fence and stop at the closing one: the reply is the
        # program alone, and no tokens go to prose after it.
        starts = prefills or [""] * len(messages)
        messages = [
            render.with_prefill(m, language, t) for m, t in zip(messages, starts, strict=True)
        ]
        stop = render.STOP
    return list(
        ctx.student.generate(
            messages * n if n > 1 else messages,
            max_new_tokens=min(ctx.cfg.max_new_tokens, max_new_tokens or ctx.cfg.max_new_tokens),
            temperature=temperature,
            seed=seed,
            stop=stop,
            **extra,
        )
    )


def _attempt(
    node: str, prompt_id: str, messages: Any, raw: str, program: Any = None
) -> dict[str, Any]:
    """One model call, losslessly: what it was shown, what it wrote, what was kept."""
    return {
        "node": node,
        "prompt_id": prompt_id,
        "messages": messages,
        "raw_output": raw,
        "program": program,
    }


def route(state: State, ctx: Context) -> State:
    """A question with no task (``--mode auto``): the router (``agent.router``) picks the
    task it reads like, and so the mode; the step shows the pick and why."""
    from agent.router import default_router

    t0 = time.perf_counter()
    r = default_router().route(state["question"])
    return {"task": r.task, "mode": r.mode, "steps": [_step("route", t0, text=r.why)]}


def retrieve(state: State, ctx: Context) -> State:
    t0 = time.perf_counter()
    spec = MODE_SPECS[state["mode"]]
    k = ctx.cfg.exemplars
    if getattr(ctx.student, "follow_trained_exemplars", False):
        # A mode's adapter runs with the prompt it was trained on (0 exemplars, typically).
        trained = ctx.student.trained_exemplars(state["mode"])
        k = k if trained is None else trained
    if ctx.kb is None or k < 1 or spec.solver is None:
        return {"exemplars": ""}
    hits = ctx.kb.search(state["question"], mode="hybrid", k=k, kinds=["exemplar"])
    shots = render.exemplar_block((h.item for h in hits), spec.language)
    return {"exemplars": shots, "steps": [_step("retrieve", t0, text=f"{len(hits)} exemplars")]}


def decompose(state: State, ctx: Context) -> State:
    t0 = time.perf_counter()
    messages = render.decompose_messages(state["question"])
    (g,) = _generate(ctx, [messages], skill=state["mode"])
    subs = render.plan_steps(g.text)
    return {
        "sub_questions": subs,
        "raw_outputs": [g.text],
        "attempts": [
            _attempt("decompose", render.template_id("pad", "decompose"), messages, g.text)
        ],
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "steps": [_step("decompose", t0, text="\n".join(subs))],
    }


def formulate(state: State, ctx: Context) -> State:
    t0 = time.perf_counter()
    mode = state["mode"]
    spec = MODE_SPECS[mode]
    prompt_id = render.template_id(mode)
    if spec.per_sentence:
        return _formulate_sentences(state, ctx, t0, prompt_id)
    messages = _formulate_messages(state)
    k = max(1, ctx.cfg.vote_k)
    outs = _generate(
        ctx,
        [messages],
        n=k,
        temperature=ctx.cfg.vote_temperature if k > 1 else 0.0,
        seed=ctx.cfg.seed,
        language=spec.language,
        skill=mode,
    )
    programs, raw, attempts = [], [], []
    ptok = sum(g.prompt_tokens for g in outs)
    ctok = sum(g.completion_tokens for g in outs)
    for i, g in enumerate(outs):
        program, text = extract_program(g.text, spec.language), g.text
        for retry in range(ctx.cfg.syntax_retries):  # syntax check with resampling
            if syntax_ok(program, spec.language):
                break
            attempts.append(_attempt("formulate", prompt_id, messages, text, program))
            (g,) = _generate(
                ctx,
                [messages],
                temperature=0.8,
                seed=ctx.cfg.seed + 1000 * (i + 1) + retry,
                language=spec.language,
                skill=mode,
            )
            program, text = extract_program(g.text, spec.language), g.text
            ptok, ctok = ptok + g.prompt_tokens, ctok + g.completion_tokens
        programs.append(program)
        raw.append(text)
        attempts.append(_attempt("formulate", prompt_id, messages, text, program))
    return _formulated(programs, raw, attempts, prompt_id, (ptok, ctok), t0, spec.solver)


def _formulate_messages(state: State) -> list[Any]:
    return render.formulate_messages(
        state["mode"],
        state["question"],
        state.get("exemplars", ""),
        state.get("sub_questions") or (),
    )


def resample(state: State, ctx: Context) -> State:
    """Every math answer is negative or fractional where a count was asked: ``resample_k``
    programs are sampled at ``vote_temperature`` beside the ones there, and in ``answer``
    only the whole answers vote (the others stand when none is whole). Once per question."""
    t0 = time.perf_counter()
    mode = state["mode"]
    spec = MODE_SPECS[mode]
    messages = _formulate_messages(state)
    outs = _generate(
        ctx,
        [messages],
        n=ctx.cfg.resample_k,
        temperature=ctx.cfg.vote_temperature,
        seed=ctx.cfg.seed + 7919,
        language=spec.language,
        skill=mode,
    )
    programs = [extract_program(g.text, spec.language) for g in outs]
    prompt_id = render.template_id(mode)
    was = ", ".join(str(a) for a in _answers(state) if a is not None)
    return {
        "programs": [*state["programs"], *programs],
        "raw_outputs": [g.text for g in outs],
        "attempts": [
            _attempt("resample", prompt_id, messages, g.text, p)
            for g, p in zip(outs, programs, strict=True)
        ],
        "resampled": True,
        "prompt_tokens": sum(g.prompt_tokens for g in outs),
        "completion_tokens": sum(g.completion_tokens for g in outs),
        "steps": [
            _step(
                "resample",
                t0,
                solver=spec.solver,
                text=f"no whole answer ({was}); {len(programs)} programs sampled again",
            )
        ],
    }


def _formulated(
    programs: list[str],
    raw: list[str],
    attempts: list[dict[str, Any]],
    prompt_id: str,
    tokens: tuple[int, int],
    t0: float,
    solver: str | None,
    text: str = "",
) -> State:
    """The formulate node's update: the programs, what the student said, the tokens spent."""
    steps = [_step("formulate", t0, program=p, solver=solver, text=text) for p in programs]
    return {
        "programs": programs,
        "raw_outputs": raw,
        "attempts": attempts,
        "prompt_id": prompt_id,
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "steps": steps,
    }


SENTENCE_TOKENS = 96  # a clause for one sentence; a reply that runs on is cut here


def _formulate_sentences(state: State, ctx: Context, t0: float, prompt_id: str) -> State:
    """The per-sentence form (``agent.theory``): every sentence of the theory and the
    statement in one batched call, replies that are no clause (the statement: no ground
    literal; a story unit: a fact about someone the unit does not name) resampled, then
    one program assembled from the translations. In a theory, a sentence that uses a
    predicate with another arity than the rest is asked once more (``theory.misfits``), a
    one-argument atom of a two-place predicate whose sentence names that argument twice gets
    it twice (``theory.fill_reflexives``), and a predicate a sentence named unlike the rest
    is renamed to theirs (``theory.align_vocabulary``)."""
    mode = state["mode"]
    spec = MODE_SPECS[mode]
    th = theory.split(state["question"], spec.per_sentence)
    units = th.units
    messages = [render.formulate_messages(mode, u, state.get("exemplars", "")) for u in units]
    k = max(1, ctx.cfg.vote_k)
    programs, raw, attempts, ptok, ctok = [], [], [], 0, 0
    renames: set[str] = set()  # predicates a sentence named unlike the rest (align_vocabulary)
    refits = 0  # sentences asked again for an argument lost (theory.misfits)
    refilled = 0  # "the squirrel ... the squirrel" atoms given their repeat (fill_reflexives)

    def call(todo: list[int], temperature: float, seed: int) -> list[Any]:
        nonlocal ptok, ctok
        outs = _generate(
            ctx,
            [messages[i] for i in todo],
            temperature=temperature,
            seed=seed,
            language=spec.language,
            skill=mode,
            max_new_tokens=SENTENCE_TOKENS,
        )
        ptok += sum(g.prompt_tokens for g in outs)
        ctok += sum(g.completion_tokens for g in outs)
        return outs

    def clause_of(text: str) -> str:
        clause = extract_program(text, spec.language).strip()
        return theory.relation_words(clause) if spec.per_sentence == "story" else clause

    def usable(i: int, text: str) -> bool:
        clause = clause_of(text)
        if not theory.clause_ok(clause, statement=th.judged and i == len(units) - 1):
            return False
        return spec.per_sentence != "story" or theory.names_its_people(clause, units[i])

    for sample in range(k):
        texts = [
            g.text
            for g in call(
                list(range(len(units))),
                ctx.cfg.vote_temperature if k > 1 else 0.0,
                ctx.cfg.seed + sample,
            )
        ]
        for retry in range(ctx.cfg.syntax_retries):
            bad = [i for i, t in enumerate(texts) if not usable(i, t)]
            if not bad:
                break
            seed = ctx.cfg.seed + 1000 * (sample + 1) + retry
            for i, g in zip(bad, call(bad, 0.8, seed), strict=True):
                texts[i] = g.text
        if spec.per_sentence == "statement" and ctx.cfg.syntax_retries:
            # a sentence whose predicate lost (or gained) an argument: asked once more
            odd = theory.misfits([clause_of(t) for t in texts])
            seed = ctx.cfg.seed + 1000 * (sample + 1) + ctx.cfg.syntax_retries
            for i, g in zip(odd, call(odd, 0.8, seed) if odd else [], strict=True):
                trial = [clause_of(t) for t in [*texts[:i], g.text, *texts[i + 1 :]]]
                if usable(i, g.text) and i not in theory.misfits(trial):
                    texts[i] = g.text
                    refits += 1
        clauses = [clause_of(t) for t in texts]
        if spec.per_sentence == "statement":
            clauses, filled = theory.fill_reflexives(th, clauses)
            refilled += filled
            clauses, renamed = theory.align_vocabulary(th, clauses)
            renames.update(f"{a} as {b}" for a, b in renamed.items())
        programs.append(theory.assemble(th, clauses))
        raw.append("\n".join(texts))
        attempts += [
            _attempt("formulate", prompt_id, m, t, c)
            for m, t, c in zip(messages, texts, clauses, strict=True)
        ]
    said = f"{len(units)} sentences"
    if refits:
        said += f"; {refits} asked again for an argument"
    if refilled:
        said += f"; {refilled} with an argument repeated"
    if renames:
        said += f"; renamed {', '.join(sorted(renames))}"
    return _formulated(programs, raw, attempts, prompt_id, (ptok, ctok), t0, spec.solver, said)


def run_solver(state: State, ctx: Context) -> State:
    """Each program through its solver. A family story's facts that its genders show
    written backwards are turned round first (``theory.turn_by_gender``); one whose facts
    imply no relation is settled by turning each fact round (``verify.settle``), once no
    completion of its units is still to come: a unit that left someone out is completed
    first."""
    t0 = time.perf_counter()
    spec = MODE_SPECS[state["mode"]]
    story = spec.per_sentence == "story"
    # a family story's facts that its genders show written backwards are turned round first
    mended = [theory.turn_by_gender(p) if story else (p, []) for p in state["programs"]]
    programs, turned = [p for p, _ in mended], [t for _, t in mended]
    turn = [story] * len(programs)
    if story and _completion_may_come(state, ctx):
        th = theory.split(state["question"], spec.per_sentence)
        turn = [not _short_units(th, p) for p in programs]
    results = [
        verify.solved(state["mode"], p, ctx.solve, ctx.cfg.solver_timeout_s, turn=t)
        for p, t in zip(programs, turn, strict=True)
    ]
    dumped = [r.model_dump(mode="json") for r in results]
    return {
        "programs": programs,
        "results": dumped,
        "attempts": [
            {"node": "solve", "program": p, "result": r}
            for p, r in zip(programs, dumped, strict=True)
        ],
        "steps": [
            _step(
                "solve",
                t0,
                program=p,
                solver=spec.solver,
                result=r,
                repair=state.get("repairs", 0),
                text=f"turned round, against the genders: {' '.join(t)}" if t else "",
            )
            for p, r, t in zip(programs, results, turned, strict=True)
        ],
    }


def _usable(state: State) -> list[bool]:
    return [a is not None for a in _answers(state)]


def after_solve(state: State, ctx: Context) -> str:
    if any(_usable(state)):
        return "resample" if _may_resample(state, ctx) else "answer"
    if MODE_SPECS[state["mode"]].per_sentence:
        # each sentence was checked and resampled in formulate already; a story's units
        # that left someone out may still be completed
        completing = _completion_may_come(state, ctx) and _incomplete(state)
        return "repair" if completing else "fallback"
    return "repair" if _may_repair(state, ctx) else "fallback"


def _answers(state: State) -> list[Any]:
    answer_type = MODE_SPECS[state["mode"]].answer_type
    return [verify.answer_of(SolverResult(**r), answer_type) for r in state["results"]]


def _may_resample(state: State, ctx: Context) -> bool:
    """Math answers, none of them whole (``verify.whole``), not yet resampled."""
    return (
        ctx.cfg.resample_k > 0
        and MODE_SPECS[state["mode"]].answer_type == "number"
        and not state.get("resampled")
        and not any(verify.whole(a) for a in _answers(state))
        and _budget_left(ctx, state)
    )


def _may_repair(state: State, ctx: Context) -> bool:
    return state.get("repairs", 0) < ctx.cfg.max_repairs and _budget_left(ctx, state)


def _completion_may_come(state: State, ctx: Context) -> bool:
    """A family story whose units may still be completed (``complete_units``): not yet,
    a repair left, and a student that continues a prefilled reply."""
    return (
        MODE_SPECS[state["mode"]].per_sentence == "story"
        and getattr(ctx.student, "prefill", True)
        and not state.get("completed")
        and _may_repair(state, ctx)
    )


def _incomplete(state: State) -> dict[int, list[int]]:
    """For each family-story program with no usable answer, the units whose facts leave
    out someone the unit names (``theory.left_out``)."""
    th = theory.split(state["question"], "story")
    found = {}
    for i, (program, ok) in enumerate(zip(state["programs"], _usable(state), strict=True)):
        short = _short_units(th, program)
        if short and not ok:
            found[i] = short
    return found


def _short_units(th: theory.Theory, program: str) -> list[int]:
    """The units of a story's program whose facts leave out someone the unit names."""
    clauses = theory.unit_clauses(th, program)
    return [
        j
        for j, (clause, unit) in enumerate(zip(clauses, th.sentences, strict=False))
        if theory.completable(theory.own_facts(clause, unit), unit)
    ]


def complete_units(state: State, ctx: Context, t0: float) -> State:
    """The repair of a family story whose facts give no answer: a 135M student often
    stops after one fact where a sentence tells two ("[Jason] and his wife [Gabrielle]
    baked a cake for [Lisa], his daughter." gives the wife fact only, and the query finds
    no path). Each unit that leaves out someone it names is asked again with its facts
    and the next fact's start as the start of the reply (``rel("Jason", ``:
    ``theory.next_fact``); a new fact is kept when it names someone left out
    (``theory.with_more``); rounds go on while a unit still leaves someone out and its
    last continuation was kept. Every unit keeps only its facts about its own people
    (``theory.own_facts``). Once per question."""
    mode = state["mode"]
    spec = MODE_SPECS[mode]
    th = theory.split(state["question"], spec.per_sentence)
    programs = list(state["programs"])
    prompt_id = render.template_id(mode)
    number = state.get("repairs", 0) + 1
    attempts, steps, raw, ptok, ctok = [], [], [], 0, 0
    for i, todo in _incomplete(state).items():
        clauses = theory.unit_clauses(th, programs[i])
        clauses[: len(th.sentences)] = [
            theory.own_facts(c, u) for c, u in zip(clauses, th.sentences, strict=False)
        ]
        added = 0
        while todo:
            starts = {j: theory.next_fact(clauses[j], th.sentences[j]) for j in todo}
            messages = [
                render.formulate_messages(mode, th.sentences[j], state.get("exemplars", ""))
                for j in todo
            ]
            outs = _generate(
                ctx,
                messages,
                language=spec.language,
                skill=mode,
                max_new_tokens=SENTENCE_TOKENS,
                prefills=[f"{clauses[j]} {starts[j]}".lstrip() for j in todo],
            )
            ptok += sum(g.prompt_tokens for g in outs)
            ctok += sum(g.completion_tokens for g in outs)
            still = []
            for j, m, g in zip(todo, messages, outs, strict=True):
                more = theory.with_more(clauses[j], starts[j] + g.text, th.sentences[j])
                raw.append(g.text)
                attempts.append(_attempt("repair", prompt_id, m, g.text, more))
                if more:
                    clauses[j], added = more, added + 1
                    if theory.left_out(more, th.sentences[j]):
                        still.append(j)
            todo = still
        programs[i] = theory.assemble(th, clauses)
        steps.append(_step(
            "repair", t0, program=programs[i], repair=number,
            text=f"{added} facts added for people a sentence's facts left out",
        ))  # fmt: skip
    return {
        "programs": programs,
        "raw_outputs": raw,
        "attempts": attempts,
        "repairs": number,
        "completed": True,
        "prompt_tokens": ptok,
        "completion_tokens": ctok,
        "steps": steps,
    }


def repair(state: State, ctx: Context) -> State:
    """Every program that gave no usable answer goes back with its solver's error, in
    its language's repair template (one batched call); the others are kept. A family
    story's units are completed instead (``complete_units``)."""
    t0 = time.perf_counter()
    mode = state["mode"]
    if MODE_SPECS[mode].per_sentence:
        return complete_units(state, ctx, t0)
    language = MODE_SPECS[mode].language
    prompt_id = render.template_id(mode, "repair")
    programs = list(state["programs"])
    todo = []
    for i, (r, ok) in enumerate(zip(state["results"], _usable(state), strict=True)):
        if ok:
            continue
        result = SolverResult(**r)
        why = result.detail if result.status != "ok" else verify.unusable(result)
        error = f"{result.status}: {why}"[:600]
        todo.append((i, error, render.repair_messages(mode, state["question"], programs[i], error)))
    outs = _generate(ctx, [m for _, _, m in todo], language=language, skill=mode)
    attempts, steps, raw = [], [], []
    number = state.get("repairs", 0) + 1
    for (i, error, messages), g in zip(todo, outs, strict=True):
        programs[i] = extract_program(g.text, language)
        raw.append(g.text)
        attempts.append(_attempt("repair", prompt_id, messages, g.text, programs[i]))
        steps.append(_step("repair", t0, program=programs[i], text=error, repair=number))
    return {
        "programs": programs,
        "raw_outputs": raw,
        "attempts": attempts,
        "repairs": number,
        "prompt_tokens": sum(g.prompt_tokens for g in outs),
        "completion_tokens": sum(g.completion_tokens for g in outs),
        "steps": steps,
    }


def fallback(state: State, ctx: Context) -> State:
    t0 = time.perf_counter()
    messages = render.direct_messages(state["question"])
    (g,) = _generate(ctx, [messages])
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
    direct_id = render.template_id(state["mode"], "direct")
    return {
        "answer": normalize(text, answer_type),
        "answer_type": answer_type,
        "grounded": False,
        "failure": failure.value if failure else None,
        "raw_outputs": [g.text],
        "attempts": [_attempt("fallback", direct_id, messages, g.text)],
        "prompt_id": state.get("prompt_id") or direct_id,
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "steps": [_step("fallback", t0, text=text)],
    }


def answer(state: State, ctx: Context) -> State:
    t0 = time.perf_counter()
    spec = MODE_SPECS[state["mode"]]
    results = [SolverResult(**r) for r in state["results"]]
    programs = state["programs"]
    if state.get("resampled"):  # only whole answers vote, when there are any
        keep = [verify.whole(a) for a in _answers(state)]
        if any(keep):
            results = [r for r, k in zip(results, keep, strict=True) if k]
            programs = [p for p, k in zip(programs, keep, strict=True) if k]
    v = verify.judge(results, spec.answer_type, programs=programs)
    if not v.grounded:
        return {
            "answer": None,
            "answer_type": spec.answer_type,
            "grounded": False,
            "failure": FailureClass.solver_error.value,
            "steps": [_step("answer", t0, text="no usable solver answer")],
        }
    usable_n = sum(1 for r in results if verify.answer_of(r, spec.answer_type) is not None)
    return {
        "answer": v.answer,
        "answer_type": spec.answer_type,
        "grounded": True,
        "failure": None,
        "steps": [_step("answer", t0, text=f"{v.answer} ({v.votes}/{usable_n} votes)")],
    }


@dataclass(frozen=True)
class Context:
    """What every node needs besides the state: the student, the KB, the config, and the
    solve function (``solvers.solve``; a benchmark may pass a timed one)."""

    student: Any
    kb: Any
    cfg: AgentConfig
    solve: Callable[[SolverRequest], SolverResult] = solve


def build_graph(
    student: Any,
    kb: Any = None,
    config: AgentConfig | None = None,
    checkpointer: Any = None,
    solver: Callable[[SolverRequest], SolverResult] | None = None,
) -> Any:
    """Compile the graph for one student, KB and config. The nodes are module-level
    functions of ``(state, ctx)``; ``solver`` replaces ``solvers.solve`` (benchmarks)."""
    from langgraph.graph import END, START, StateGraph

    ctx = Context(student, kb, config or AgentConfig(), solver or solve)

    g = StateGraph(State)
    for name, fn in [
        ("route", route),
        ("retrieve", retrieve),
        ("decompose", decompose),
        ("formulate", formulate),
        ("solve", run_solver),
        ("repair", repair),
        ("resample", resample),
        ("fallback", fallback),
        ("answer", answer),
    ]:
        g.add_node(name, functools.partial(fn, ctx=ctx))
    g.add_conditional_edges(
        START, lambda s: "route" if s["mode"] == "auto" else "retrieve", ["route", "retrieve"]
    )
    g.add_edge("route", "retrieve")
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
    g.add_conditional_edges(
        "solve",
        functools.partial(after_solve, ctx=ctx),
        ["answer", "repair", "resample", "fallback"],
    )
    g.add_edge("repair", "solve")
    g.add_edge("resample", "solve")
    g.add_edge("fallback", END)
    g.add_edge("answer", END)
    return g.compile(checkpointer=checkpointer)
