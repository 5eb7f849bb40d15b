"""The run_pytest skill (:mod:`phasegraph.skills.run_pytest.skill`) and its parts."""
