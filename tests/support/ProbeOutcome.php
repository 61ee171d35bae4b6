<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/** What one probe of a Probes run did. */
final class ProbeOutcome
{
    /** The expression returned: $value describes what. */
    public const RETURNED = 'returned';
    /** It threw $class with $message. */
    public const THREW = 'threw';
    /** Its process ended by a signal while it ran (SIGSEGV, SIGABRT of a Rust abort...). */
    public const CRASHED = 'crashed';
    /** Its process ended with an exit code while it ran (a PHP fatal error: exit code 255). */
    public const DIED = 'died';
    /** It did not return within the probe timeout; its process was killed. */
    public const HUNG = 'hung';

    public function __construct(
        public readonly string $label,
        public readonly string $expression,
        public readonly string $kind,
        public readonly ?string $class = null,
        public readonly ?string $message = null,
        public readonly ?string $value = null,
        public readonly ?int $exitCode = null,
        /** the tail of the process's stderr, for the kinds that took the process down */
        public readonly string $stderr = ''
    ) {
    }

    /** Whether it threw an instance of $class (the class or a subclass). */
    public function threw(string $class): bool
    {
        return $this->kind === self::THREW && is_a((string) $this->class, $class, true);
    }

    /** For assertion messages: one paragraph saying what happened. */
    public function describe(): string
    {
        $what = match ($this->kind) {
            self::RETURNED => "returned {$this->value}",
            self::THREW => "threw {$this->class}: {$this->message}",
            self::CRASHED => sprintf('crashed the process (signal %d%s)', $this->exitCode - 128, self::signalName($this->exitCode - 128)),
            self::DIED => "ended the process with exit code {$this->exitCode}",
            self::HUNG => 'did not return (process killed)',
            default => $this->kind,
        };
        $text = "[{$this->label}] {$this->expression}\n  -> $what";
        if ($this->stderr !== '') {
            $text .= "\n  stderr:\n    " . str_replace("\n", "\n    ", $this->stderr);
        }
        return $text;
    }

    private static function signalName(int $signal): string
    {
        $names = [SIGSEGV => 'SIGSEGV', SIGABRT => 'SIGABRT', SIGKILL => 'SIGKILL', SIGBUS => 'SIGBUS', SIGILL => 'SIGILL', SIGFPE => 'SIGFPE', SIGTERM => 'SIGTERM'];
        return isset($names[$signal]) ? ', ' . $names[$signal] : '';
    }
}
