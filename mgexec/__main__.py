from mgexec.adapters.cli import main

main()
