"""Active learning: one round of pool scoring -> candidate selection -> oracle labelling -> merge ->
retrain -> report (``distillery active-learn``; see docs/active-learning.md).

``loop`` (:func:`run_round`: drives the resumable steps), ``context`` (:class:`ActiveOptions`, the
round's state and the run being improved), ``selection`` (choosing candidates), ``steps`` (steps
1-5), ``report`` (step 6: report.md / report.json).
"""
