<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

/**
 * Pre-generated input of `mosquitto_pub -l`: one message per line, each line
 * 64 bytes long (the payload size of every benchmark), numbered. Made once
 * per size, removed at the end.
 */
final class LineFiles
{
    /** @var array<int,string> */
    private array $files = [];
    private string $dir;

    public function __construct()
    {
        $this->dir = sys_get_temp_dir() . '/mqtt-broadcast-bench-' . bin2hex(random_bytes(6));
        if (!mkdir($this->dir, 0700)) {
            throw new \RuntimeException("cannot create {$this->dir}");
        }
    }

    public function dir(): string
    {
        return $this->dir;
    }

    /** The file of $count lines. */
    public function get(int $count): string
    {
        if (!isset($this->files[$count])) {
            $file = "{$this->dir}/lines-$count";
            $handle = fopen($file, 'w');
            $chunk = '';
            for ($i = 1; $i <= $count; $i++) {
                $chunk .= str_pad(sprintf('%010d mosquitto_pub -l', $i), 64, '.') . "\n";
                if ($i % 10_000 === 0) {
                    fwrite($handle, $chunk);
                    $chunk = '';
                }
            }
            fwrite($handle, $chunk);
            fclose($handle);
            $this->files[$count] = $file;
        }
        return $this->files[$count];
    }

    public function __destruct()
    {
        foreach (glob($this->dir . '/*') ?: [] as $file) {
            @unlink($file);
        }
        @rmdir($this->dir);
    }
}
