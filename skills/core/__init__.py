"""The ground floor: errors, text helpers, retries and redaction. Imports nothing of phasegraph."""
