import sys

if sys.argv[1:3] == ["server", "worker"]:
    # The worker a supervisor starts: its lean entry point, without the CLI's imports.
    from fazt.server.worker_main import main as worker_main

    sys.exit(worker_main(sys.argv[3:]))

from fazt.cli.main import main

main()
