from fazt.cli.main import main

main()
