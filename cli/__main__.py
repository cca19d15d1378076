from smsq.cli.entry import main

main()
