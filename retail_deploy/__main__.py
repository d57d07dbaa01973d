from retail_deploy.cli import main

main()
