from wanflow.cli.app import main

main()
