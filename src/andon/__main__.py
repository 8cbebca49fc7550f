from andon.cli.main import main

main()
