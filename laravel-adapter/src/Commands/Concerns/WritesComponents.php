<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands\Concerns;

/**
 * Status lines through `$this->components` (Laravel 9.21 and later, the look
 * of the framework's own commands), through info()/warn()/error() before it.
 */
trait WritesComponents
{
    /** @param 'info'|'warn'|'error' $level */
    protected function status(string $level, string $message): void
    {
        if (isset($this->components)) {
            $this->components->{$level}($message);
            return;
        }
        $this->{$level}($message);
    }
}
