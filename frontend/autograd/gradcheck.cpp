// Finite-difference gradient checking.
