from smsq.cli.main import main

main()
