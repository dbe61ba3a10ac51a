from simctl.main import main

main()
