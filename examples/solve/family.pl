% Logic-LM style: facts and rules, then the default query answer(X).
parent(tom, bob).
parent(bob, ann).
parent(ann, joe).
ancestor(X, Y) :- parent(X, Y).
ancestor(X, Y) :- parent(X, Z), ancestor(Z, Y).
answer(X) :- ancestor(tom, X).
