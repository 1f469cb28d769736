"""The workflow sandbox, without the SDK's trips into it for contexts we never use, and
without compiling the workflow's module again for every workflow it starts.

For every payload of every activation and of every completion, temporalio's worker asks
the workflow instance which serialization context (and external-storage context) applies,
so that a payload codec or external storage can depend on the workflow or activity. In
the sandbox each question is a Python string compiled and executed inside it: profiling
the worker under a flood of decisions (py-spy, ``--gil``) put a fifth of its CPU there.
The answer can only change what a payload codec or external storage does, and
Disputeflow's data converter has neither (``config/converter.py``): its payload converter
runs inside the sandbox and takes no context. So where that holds, this runner answers
"no context" outside the sandbox; everything else — imports, restrictions, activations,
deadlock detection — is the SDK's sandbox unchanged. A converter that gains a codec or
external storage gets the SDK's runner back (:func:`workflow_runner`).

The sandbox imports a workflow's own module afresh for every workflow instance (a new
dispute, or one replayed into the cache). Where Python may not write bytecode
(``PYTHONDONTWRITEBYTECODE``, common in containers and set on our CI machine) and the
sources were installed in place (``pip install -e``), that import compiled the module from
source each time: 3.6 ms for ``workflows/dispute.py``, 8% of the worker's CPU in a
benchmark of full lifecycles. So the runner compiles each workflow module's package once,
when the worker starts (:func:`compile_once`); a read-only install is left as it is.
"""

from __future__ import annotations

import compileall
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import temporalio.bridge.proto.workflow_activation as activation_pb
import temporalio.bridge.proto.workflow_completion as completion_pb
import temporalio.converter
import temporalio.workflow
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

NO_STORE = StorageDriverStoreContext(target=None)
log = logging.getLogger("disputeflow.worker")


def compile_once(module_name: str) -> None:
    """Write the bytecode of ``module_name``'s package (where it is missing or stale), so
    the sandbox's import of it per workflow instance reads it instead of compiling."""
    module = sys.modules.get(module_name)
    source = getattr(module, "__file__", None)
    if not source:
        return
    try:
        compileall.compile_dir(Path(source).parent, maxlevels=0, quiet=2)
    except OSError as exc:  # a read-only install: imports compile, as without this
        log.info("could not write bytecode for %s: %s", module_name, exc)


def contexts_matter(converter: DataConverter) -> bool:
    """Whether a payload's serialization context can change what ``converter`` writes."""
    return converter.payload_codec is not None or converter.external_storage is not None


def workflow_runner(converter: DataConverter) -> WorkflowRunner:
    """The runner for workflows whose payloads go through ``converter``."""
    sandbox = SandboxedWorkflowRunner()
    return sandbox if contexts_matter(converter) else ContextFreeSandbox(sandbox)


class ContextFreeSandbox(WorkflowRunner):
    """The SDK's sandbox, answering "no serialization context" without entering it. Only
    for a data converter without payload codec and external storage."""

    def __init__(self, sandbox: SandboxedWorkflowRunner) -> None:
        self.sandbox = sandbox

    def prepare_workflow(self, defn: temporalio.workflow._Definition) -> None:
        compile_once(defn.cls.__module__)
        self.sandbox.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self.sandbox.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.sandbox.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner

    def activate(self, act: activation_pb.WorkflowActivation,
                 ) -> completion_pb.WorkflowActivationCompletion:
        return self.inner.activate(act)

    def get_serialization_context(
        self, command_info: CommandInfo | None,
    ) -> temporalio.converter.SerializationContext | None:
        return None  # the worker's converter as is: it has nothing a context could change

    def get_external_store_context(self, command_info: CommandInfo | None,
                                   ) -> StorageDriverStoreContext:
        return NO_STORE  # no external storage to address

    def get_info(self) -> temporalio.workflow.Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()  # the SDK's deadlock detection reads it


__all__ = ["ContextFreeSandbox", "contexts_matter", "workflow_runner"]
