# A Program-of-Thoughts program, as a student writes it (PaD): the answer is `ans`.
# "A baker makes 48 rolls, sells 3/4 of them, and splits the rest equally into 4 bags.
#  How many rolls are in each bag?"
from fractions import Fraction

rolls = 48
sold = rolls * Fraction(3, 4)
left = rolls - sold
ans = left / 4
