<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A child process started without a shell, its stdout and stderr going to files
 * (files, not pipes: a child that writes a lot can never block on us, and a
 * grandchild holding the descriptors cannot keep us waiting for EOF).
 */
final class BackgroundProcess
{
    /**
     * The exit code of a process that ended without PHP collecting its status:
     * waitpid found no such child (ECHILD), so something in this process reaped
     * it first. Still seen in CI now and then under heavy process churn, after
     * the stale handles that did it were closed; what reaps them is not known.
     * Callers that check the process's work by other means accept it.
     */
    public const UNCOLLECTED = -1;

    /** @var resource|null */
    private $handle;
    private int $pid;
    private ?int $exitCode = null;
    /** pid, or -pgid when the process leads its own group */
    private int $signalTarget;

    /**
     * @param list<string> $command
     * @param array<string,string>|null $env null inherits ours
     * @param bool $ownProcessGroup run under setsid so signals reach the child's own children too
     */
    public function __construct(
        array $command,
        string $stdoutFile,
        string $stderrFile,
        ?array $env = null,
        bool $ownProcessGroup = false,
        bool $append = false
    ) {
        if ($ownProcessGroup) {
            array_unshift($command, 'setsid');
        }
        $mode = $append ? 'a' : 'w';
        $handle = proc_open(
            $command,
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', $stdoutFile, $mode], 2 => ['file', $stderrFile, $mode]],
            $pipes,
            null,
            $env
        );
        if (!is_resource($handle)) {
            throw new \RuntimeException('cannot start ' . implode(' ', $command));
        }
        $this->handle = $handle;
        $this->pid = proc_get_status($handle)['pid'];
        $this->signalTarget = $ownProcessGroup ? -$this->pid : $this->pid;
    }

    public function pid(): int
    {
        return $this->pid;
    }

    public function isRunning(): bool
    {
        if ($this->handle === null) {
            return false;
        }
        $status = proc_get_status($this->handle);
        if ($status['running']) {
            return true;
        }
        // proc_get_status has reaped the child and reports its exit code only once:
        // keep the code and close the handle at once. proc_close waits for the pid
        // again, and a handle left open would, once this process has started so
        // many children that the kernel hands out that pid anew, reap a newer
        // child in its place, whose own handle would then see no exit code (-1).
        $this->exitCode = $status['signaled'] ? 128 + $status['termsig'] : $status['exitcode'];
        proc_close($this->handle);
        $this->handle = null;
        return false;
    }

    /** Exit code once the process has ended (128 + signal number when killed by a signal, or UNCOLLECTED). */
    public function exitCode(): ?int
    {
        return $this->isRunning() ? null : $this->exitCode;
    }

    /**
     * Whether it ended with exit code 0, or UNCOLLECTED: for callers that check
     * the process's work by other means (what arrived, what it printed).
     */
    public function succeeded(): bool
    {
        return in_array($this->exitCode(), [0, self::UNCOLLECTED], true);
    }

    /** Waits up to $timeout seconds for the process to end; true if it did. */
    public function wait(float $timeout): bool
    {
        $deadline = microtime(true) + $timeout;
        while ($this->isRunning()) {
            if (microtime(true) >= $deadline) {
                return false;
            }
            usleep(10_000);
        }
        return true;
    }

    /** SIGTERM, then SIGKILL if it is still there after $grace seconds; returns once it is gone. */
    public function terminate(float $grace = 10.0): void
    {
        if ($this->isRunning()) {
            posix_kill($this->signalTarget, SIGTERM);
            if (!$this->wait($grace)) {
                $this->kill();
            }
        }
    }

    public function kill(): void
    {
        if ($this->isRunning()) {
            posix_kill($this->signalTarget, SIGKILL);
            $this->wait(10.0);
        }
    }

    /** SIGKILL to whatever is left of the process group (children the process forked and left behind). */
    public function killGroup(): void
    {
        if ($this->signalTarget < 0) {
            posix_kill($this->signalTarget, SIGKILL);
        }
        $this->kill();
    }

    public function __destruct()
    {
        $this->kill();
    }
}
