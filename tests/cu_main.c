/*
 * cu_main.c - a shared main for the CUnit suites: each suite file defines
 * cu_register(), which adds its suites; this runs them and fails the process
 * when any assertion failed.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

int cu_register(void);

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (cu_register() != 0) {
        fprintf(stderr, "suite registration failed\n");
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    printf("%u tests run, %s\n", run, failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
