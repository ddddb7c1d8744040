@echo off
REM kubectl_complete-svcmux.bat completes "kubectl svcmux TAB" on Windows: kubectl (1.26
REM and later) runs kubectl_complete-svcmux from PATH with the words typed after the
REM plugin's name; the hidden __complete command of kubectl-svcmux answers them.
kubectl-svcmux.exe __complete %*
