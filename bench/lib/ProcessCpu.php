<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

/**
 * CPU time of another process, read from /proc: how busy the broker was while
 * something was measured. A broker near 100% of one core is the limit of that
 * measurement, whatever the client does.
 */
final class ProcessCpu
{
    /** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
    private const TICKS = 100;

    /** User plus system time process $pid has used so far, in seconds (10 ms steps). */
    public static function seconds(int $pid): float
    {
        $stat = @file_get_contents("/proc/$pid/stat");
        if ($stat === false) {
            throw new \RuntimeException("no process $pid");
        }
        // The fields after the command name, which is in parentheses and may hold spaces:
        // utime and stime are the 14th and 15th of the whole line.
        $fields = explode(' ', substr($stat, strrpos($stat, ')') + 2));
        return ((int) $fields[11] + (int) $fields[12]) / self::TICKS;
    }
}
