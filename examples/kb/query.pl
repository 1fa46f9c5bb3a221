% The rules and facts come from the KB (--facts); this file only names the question.
% 'Tom' is quoted because the KB keeps the capital: unquoted, Tom would be a variable.
answer(X) :- grandparent('Tom', X).
