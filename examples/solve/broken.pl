% A program with a syntax error: the solver says where, so the model can repair it.
parent(tom, bob).
parent(bob ann).
answer(X) :- parent(tom, X).
