from mgexec.cli import main

main()
