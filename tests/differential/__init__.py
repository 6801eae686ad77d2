"""The differential contract test's harness: corpora, the strace recorder in throwaway images, the
trace reader and the rule that matches what a real shell started against what mgexec judged."""
