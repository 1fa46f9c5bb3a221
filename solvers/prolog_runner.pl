/*  Runs one untrusted Prolog program and query for solvers/prolog.py.

    nesy_run(+Program, +Facts, +Query, +Millis, +Inferences, +MaxSolutions, -Json)

    - The clauses are read with read_term/3 (never consulted), so every syntax error is
      an exception we catch, with its line and column, never a message on stderr.
    - Directives other than declarations are refused; module-qualified heads are refused.
    - Everything runs in a temporary module that is destroyed afterwards, so clauses
      never leak from one request into the next.
    - The query must pass library(sandbox)'s safe_goal/1 (as in SWISH): no shell, files,
      network or foreign code, including through the program's own predicates.
    - call_with_time_limit/2 and call_with_inference_limit/3 bound the run; the stack
      limit (set by the worker) turns runaway recursion into a resource error.
*/
:- module(nesy_runner, [nesy_run/7]).
:- use_module(library(sandbox)).
:- use_module(library(time)).
:- use_module(library(http/json)).
:- use_module(library(solution_sequences)).
:- use_module(library(utf8)).

nesy_run(Program0, Facts0, Query0, Millis, Inferences, MaxSols, Json) :-
    utf8_text(Program0, Program),
    utf8_text(Facts0, Facts),
    utf8_text(Query0, Query),
    Seconds is Millis / 1000,
    catch(run(Program, Facts, Query, Seconds, Inferences, MaxSols, Dict),
          Error,
          error_dict(Error, Dict)),
    with_output_to(string(Json), json_write_dict(current_output, Dict, [width(0)])).

%   pyswip hands text over as an atom of UTF-8 *bytes* (PL_put_atom_chars); decode it.
utf8_text(Bytes, Text) :-
    atom_codes(Bytes, Codes),
    (   member(C, Codes), C > 127
    ->  phrase(utf8_codes(Decoded), Codes),
        atom_codes(Text, Decoded)
    ;   Text = Bytes
    ).

run(Program, Facts, Query, Seconds, Inferences, MaxSols, Dict) :-
    in_temporary_module(M, true,
        run_in(M, Program, Facts, Query, Seconds, Inferences, MaxSols, Dict)).

run_in(M, Program, Facts, Query, Seconds, Inferences, MaxSols, Dict) :-
    load_text(M, Facts, facts, FactErrors),
    load_text(M, Program, program, ProgErrors),
    append(FactErrors, ProgErrors, Errors),
    (   Errors \== []
    ->  atomic_list_concat(Errors, '\n', Detail),
        Dict = _{status: error, detail: Detail}
    ;   catch(term_string(Goal, Query, [variable_names(Bindings)]), E,
              (message_text(E, Msg), format(string(D), "query: ~w", [Msg]),
               throw(nesy_error(D))))
    ->  check_safe(M, Goal),
        solve(M, Goal, Bindings, Seconds, Inferences, MaxSols, Dict)
    ).

% --- loading -----------------------------------------------------------------------------

load_text(_, Text, _, []) :- Text == '', !.
load_text(_, Text, _, []) :- Text == "", !.
load_text(M, Text, Label, Errors) :-
    setup_call_cleanup(
        open_string(Text, S),
        read_all(M, S, Label, Errors),
        close(S)).

read_all(M, S, Label, Errors) :-
    catch(read_term(S, T, [module(M), syntax_errors(error), term_position(P)]), E, true),
    (   nonvar(E)
    ->  syntax_message(E, Label, Msg),
        Errors = [Msg|Rest],
        (   at_end_of_stream(S) -> Rest = [] ; read_all(M, S, Label, Rest) )
    ;   T == end_of_file
    ->  Errors = []
    ;   add_clause(M, T, P, Label, Errs0),
        append(Errs0, Rest, Errors),
        read_all(M, S, Label, Rest)
    ).

add_clause(_, (:- table(Spec)), P, Label, [Msg]) :-
    \+ plain_table(Spec), !,
    line(P, L),
    format(string(Msg),
           "~w line ~w: only plain tabling (table name/arity) is allowed, not modes: ~q",
           [Label, L, table(Spec)]).
add_clause(M, (:- Directive), P, Label, Errors) :- !,
    (   declaration(Directive)
    ->  catch((M:Directive, Errors = []), E, (clause_error(E, P, Label, Msg), Errors = [Msg]))
    ;   line(P, L),
        format(string(Msg), "~w line ~w: directive not allowed: ~q", [Label, L, Directive]),
        Errors = [Msg]
    ).
add_clause(_, Clause, P, Label, [Msg]) :-
    clause_head(Clause, H), H = _:_, !,
    line(P, L),
    format(string(Msg), "~w line ~w: module-qualified clause not allowed: ~q", [Label, L, H]).
add_clause(M, Clause, P, Label, Errors) :-
    catch((assertz(M:Clause), Errors = []), E, (clause_error(E, P, Label, Msg), Errors = [Msg])).

declaration(dynamic(_)).
declaration(discontiguous(_)).
declaration(table(_)).

%   Mode-directed tabling (answer subsumption: lattice(PI), po(PI), max, ...) calls goals
%   that safe_goal/1 never sees, so only plain name/arity specifications are accepted.
plain_table(Spec) :- var(Spec), !, fail.
plain_table((A, B)) :- !, plain_table(A), plain_table(B).
plain_table([]) :- !.
plain_table([H|T]) :- !, plain_table(H), plain_table(T).
plain_table(Name/Arity) :- atom(Name), integer(Arity).
plain_table(Name//Arity) :- atom(Name), integer(Arity).

clause_head((H :- _), H) :- !.
clause_head(H, H).

line(P, L) :- nonvar(P), catch(stream_position_data(line_count, P, L), _, fail), !.
line(_, '?').

clause_error(E, P, Label, Msg) :-
    line(P, L),
    message_text(E, Text),
    format(string(Msg), "~w line ~w: ~w", [Label, L, Text]).

syntax_message(error(syntax_error(What), Ctx), Label, Msg) :-
    (   Ctx = stream(_, Line, LinePos, _)
    ->  Col is LinePos + 1,
        format(string(Msg), "~w line ~w, column ~w: syntax error: ~w", [Label, Line, Col, What])
    ;   Ctx = string(_, CharNo)
    ->  format(string(Msg), "~w char ~w: syntax error: ~w", [Label, CharNo, What])
    ;   format(string(Msg), "~w: syntax error: ~w", [Label, What])
    ), !.
syntax_message(E, Label, Msg) :-
    message_text(E, Text),
    format(string(Msg), "~w: ~w", [Label, Text]).

% --- safety ------------------------------------------------------------------------------

check_safe(M, Goal) :-
    catch(safe_goal(M:Goal), E, unsafe(E)).

%   safe_goal/1 also fails on a call to a predicate that no clause defines: say that.
unsafe(error(existence_error(procedure, What), _)) :-
    unqualified(What, PI),
    indicator(PI, Name, Arity), !,
    format(string(D), "unknown procedure ~w/~w: no clause or built-in defines it",
           [Name, Arity]),
    throw(nesy_error(D)).
unsafe(E) :-
    message_text(E, Msg),
    format(string(D), "unsafe goal refused: ~w", [Msg]),
    throw(nesy_error(D)).

unqualified(_:PI, Out) :- !, unqualified(PI, Out).
unqualified(PI, PI).

indicator(Name/Arity, Name, Arity) :- !.
indicator(Goal, Name, Arity) :- callable(Goal), functor(Goal, Name, Arity).

% --- solving -----------------------------------------------------------------------------

solve(M, Goal, Bindings, Seconds, Inferences, MaxSols, Dict) :-
    (   MaxSols =:= 0 -> Limit = inf ; Limit = MaxSols ),
    Collect = findall(Bindings, limit(Limit, M:Goal), Solutions),
    call_with_time_limit(Seconds,
        call_with_inference_limit(Collect, Inferences, Why)),
    (   Why == inference_limit_exceeded
    ->  format(string(D), "inference limit of ~D exceeded", [Inferences]),
        Dict = _{status: timeout, detail: D}
    ;   maplist(solution_json, Solutions, Answers),
        Dict = _{status: ok, solutions: Answers}
    ).

solution_json(Bindings, Json) :-
    findall(Name-Value,
            (member(Name=Var, Bindings), \+ sub_atom(Name, 0, _, _, '_'), value_json(Var, Value)),
            Pairs),
    dict_pairs(Json, json, Pairs).

value_json(V, V) :- number(V), !.
value_json(V, J) :- atom(V), !, atom_string(V, J).
value_json(V, V) :- string(V), !.
value_json(V, "_") :- var(V), !.
value_json(V, J) :- is_list(V), !, maplist(value_json, V, J).
value_json(V, J) :- term_string(V, J).

% --- errors ------------------------------------------------------------------------------

error_dict(nesy_error(D), _{status: error, detail: D}) :- !.
error_dict(time_limit_exceeded, _{status: timeout, detail: "time limit exceeded"}) :- !.
error_dict(error(resource_error(R), _), _{status: memory, detail: D}) :- !,
    format(string(D), "resource error: ~w (over the request's memory limit)", [R]).
error_dict(E, _{status: error, detail: D}) :-
    message_text(E, D).

message_text(E, Text) :-
    catch(translated(E, Codes), _, fail), !,
    string_codes(Text0, Codes),
    split_string(Text0, "", " \n", [Text]).
message_text(E, Text) :-
    format(string(Text), "~q", [E]).

translated(E, Codes) :-
    '$messages':translate_message(E, Lines, []),
    with_output_to(codes(Codes), print_message_lines(current_output, '', Lines)).
