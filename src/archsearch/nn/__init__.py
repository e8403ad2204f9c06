"""The torch side: the network (phenotype) of each space, one op registry, the cost
measurements of a built network and the weight transfer of network morphisms.

Importing this package imports no torch; its modules do."""
