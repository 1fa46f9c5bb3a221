% The rules and facts come from the KB (--facts); this file only names the question.
answer(X) :- grandparent(tom, X).
