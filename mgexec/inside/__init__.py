"""Every program mgexec runs inside a container or a shell's own tree, and the words each shares with host code.

These run where mgexec is not installed (a container) or must not import it (a process started in
milliseconds that outlives the server), so each is plain text or self-contained source; host code
builds their argv and reads what they print. tests/test_inside_scripts.py holds both sides to the
words listed here: change one side alone and it fails.

- `channel_boot.HELPER_BOOT` (python3 -c): reads `SIZE\\n` and SIZE bytes of program from stdin and runs
  them; exits `TOO_OLD_EXIT` (97) under Python < 3.7, which docker/channel.py reports as such.
- `channel_helper` (the warm channel's helper, sent by docker/channel_program.py as one program with
  `channel_jobs` (its commands' start and containment), `wire` (the frame format, also imported by the
  host's docker/channel_link.py) and mgexec.processes.SHIPPED). Requests are JSON lines: `open` {socket,
  token} first, then `run` {id, cmd, cwd, env, timeout, grace, cap} and `cancel` {id}; it answers one
  JSON line `hello` {pid, protocol, python, socket, socket_error}, then binary frames (wire.HEADER: kind,
  id, length): STDOUT/STDERR raw output and CONTROL `started` {id, pid}, `exit` {id, code, signal,
  timed_out, dropped [out, err], error, and `FAILED_FIELD` for a command that did not start}, `error`.
  With a socket (docker/channel_socket.py) the frames go there after the token. A command it cannot
  start in its cwd exits `START_FAILED` (126) with `FAILED_FIELD` = `FAILED_WORK_DIR` and stderr
  beginning `CWD_FAILED_PREFIX`; docker/channel_program.py reads the field (ChannelOutput.work_dir_unusable)
  and runtimes/channel.py reports it as a refusal. `channel_jobs` holds copies of mgexec.environment's
  NON_INTERACTIVE_ENV, LINE_SHELL and SHELL_STARTUP_VARIABLES.
- `channel_boot.ORPHAN_GROUPS_KILL` (python3 -c, argv: PGID...): SIGKILLs the process groups of the
  commands a helper killed from outside left running (docker/channel.py).
- `sweep.SWEEP` (bash -c, argv: SIG TAG|- SINCE|- ROOT...): signals every process of the roots' trees,
  sessions and groups, those whose environment holds `TAG_VARIABLE=TAG` (MGEXEC_GUARD), and orphans of
  PID 1 started at or after SINCE; with KILL it freezes them first. With a tag it first creates
  `closed_marker(TAG)`. `START_TIME_SH` defines `start_of PID` (clock ticks since boot, field 22 of
  /proc/PID/stat). Used by the two scripts below, by shells/docker_launcher.py (a shell's kill) and by
  shells/docker_watchdog.py (the sweep after the server's death, sent in MGEXEC_SWEEP).
- `pidfile.PIDFILE_WRAPPER` (sh -c, argv: PIDFILE COMMAND): runs one command of docker mode without the
  channel in its own session and writes `PID SINCE` to PIDFILE; `pidfile.PIDFILE_KILL` (sh -c, argv:
  PIDFILE GRACE_TENTHS) reads it back, SIGTERMs the tree, waits the grace, SIGKILLs it (runtimes/docker_exec.py).
- `shell_wrapper.SHELL_WRAPPER` (sh -c, argv: COMMAND): a docker background shell. Refuses with
  `SHELL_REFUSED_EXIT` (125) once `CLOSED_MARKER` exists for its MGEXEC_GUARD tag, else prints the
  handshake `\\036mgexec-pid PID SINCE\\036` (shells/launcher.py HANDSHAKE) and execs bash.
- `keeper` (python -I -S, source in KEEPER_VARIABLE, argv: LIFELINE_FD SHELL COMMAND): the subreaper
  keeper of a local background shell. Prints the handshake `\\036mgexec-pid PID\\036`, kills the whole
  tree when the shell ends or the lifeline (a pipe the server holds) closes, exits with the shell's
  status, or `KEEPER_REFUSED_EXIT` (125) when it cannot become a subreaper.

Host-side termination (signals, the SIGTERM -> grace -> SIGKILL escalation, /proc) is mgexec.processes.
"""
