from elbo_sym.cli import main

raise SystemExit(main())
