int cu_register(void); int cu_register(void) { return 0; }
