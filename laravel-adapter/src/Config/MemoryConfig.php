<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

/** `mqtt-broadcast.memory`: how the daemon keeps its memory in check. */
final class MemoryConfig
{
    public function __construct(
        /** messages handled between two gc_collect_cycles() */
        public readonly int $gcInterval,
        public readonly int $thresholdMb,
        /** exit (for the process manager to restart the daemon) above the threshold, rather than only warn */
        public readonly bool $autoRestart,
        /** seconds the daemon waits, disconnected, before that exit, so a restart loop cannot spin */
        public readonly float $restartDelaySeconds,
    ) {
    }

    public static function read(Section $memory): self
    {
        return new self(
            gcInterval: $memory->int('gc_interval', 100, 1, PHP_INT_MAX),
            thresholdMb: $memory->int('threshold_mb', 128, 1, PHP_INT_MAX),
            autoRestart: $memory->bool('auto_restart', true),
            restartDelaySeconds: $memory->number('restart_delay_seconds', 10.0, false),
        );
    }
}
