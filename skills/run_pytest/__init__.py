"""The run_pytest skill: the project's tests in its own interpreter, judged test by test."""
