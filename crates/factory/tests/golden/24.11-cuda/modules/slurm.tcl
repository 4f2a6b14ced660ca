#%Module1.0
## Environment Modules file for slurm-24.11-cuda-x86_64_v3, rendered by Slurm Factory.
##
## Relocatable: set SLURM_INSTALL_PREFIX to the directory the package was
## unpacked into; without it the install prefix below is used. Libraries are
## found through RPATHs, so LD_LIBRARY_PATH is left alone.

set default_prefix {/opt/slurm/slurm-24.11-cuda-x86_64_v3}
if {[info exists ::env(SLURM_INSTALL_PREFIX)] && $::env(SLURM_INSTALL_PREFIX) ne ""} {
    set prefix $::env(SLURM_INSTALL_PREFIX)
} else {
    set prefix $default_prefix
}

proc ModulesHelp {} {
    puts stderr {Slurm 24.11 (the default package plus NVIDIA GPU support (+nvml, cuda_arch)), built with Spack for target x86_64_v3.
Set SLURM_INSTALL_PREFIX before loading to use a copy unpacked elsewhere.
SLURM_CONF defaults to /etc/slurm/slurm.conf unless already set.}
}

module-whatis {Slurm 24.11: the default package plus NVIDIA GPU support (+nvml, cuda_arch)}

family workloadmanager
conflict {slurm}
conflict {slurm-wlm}

if {[module-info mode load] && !([file isfile $prefix/sbin/slurmctld] || [file isfile $prefix/bin/sinfo])} {
    error "Slurm was not found in '$prefix' (no sbin/slurmctld or bin/sinfo).\nSet SLURM_INSTALL_PREFIX to the directory the Slurm package was unpacked into."
}

prepend-path PATH $prefix/bin
prepend-path PATH $prefix/sbin
prepend-path MANPATH $prefix/share/man
prepend-path CPATH $prefix/include
prepend-path PKG_CONFIG_PATH $prefix/lib/pkgconfig
## OpenMPI, PMIx and PRRTE look for their wrapper data and help files
## under the prefix they were built at unless told where they are.
setenv OPAL_PREFIX $prefix
setenv PMIX_PREFIX $prefix
setenv PRTE_PREFIX $prefix
## Set SLURM_CONF only when the user has none; unloading removes only ours
## (setenv undoes itself on unload).
set slurm_conf {/etc/slurm/slurm.conf}
if {[module-info mode load]} {
    if {![info exists ::env(SLURM_CONF)]} {
        setenv SLURM_CONF $slurm_conf
    }
} elseif {[info exists ::env(SLURM_CONF)] && $::env(SLURM_CONF) eq $slurm_conf} {
    setenv SLURM_CONF $slurm_conf
}
