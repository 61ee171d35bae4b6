<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Daemon;

/** Whether a process of this host is still there, for the registry and the terminate command. */
final class ProcessTable
{
    public static function isRunning(int $pid): bool
    {
        if ($pid <= 0 || !function_exists('posix_kill')) {
            return true;
        }
        // Signal 0 checks without signalling; EPERM (1) means it exists under another user.
        if (!posix_kill($pid, 0) && posix_get_last_error() !== 1) {
            return false;
        }
        // An exited process its parent has not reaped yet (a zombie) still takes signal 0.
        // /proc/<pid>/stat reads "<pid> (<command>) <state> ...", and the command may hold ")".
        $stat = @file_get_contents("/proc/$pid/stat");
        $end = $stat === false ? false : strrpos($stat, ')');
        return $end === false || substr($stat, $end + 2, 1) !== 'Z';
    }
}
