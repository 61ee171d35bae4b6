<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent subscriber (MosquittoSubscriber) with a fixed client id and a
 * persistent session (-c), so that together with mosquitto's persistence it
 * keeps receiving across broker restarts.
 *
 * Each message is printed as "<topic> <payload as hex>" (mosquitto_sub -F '%t %x'),
 * which keeps payloads byte-exact, binary and empty ones included; the payload is
 * split off at the last space, since hex has none.
 */
final class Listener extends MosquittoSubscriber
{
    public static function start(Broker $broker, string $filter = '#', int $qos = 1): self
    {
        return new self($broker, $filter, 'listener-' . bin2hex(random_bytes(5)), ['-c', '-q', (string) $qos, '-F', '%t %x']);
    }

    /** @return list<array{0:string,1:string}> [topic, payload] of every message received so far, probes excluded */
    public function messages(): array
    {
        return parent::messages();
    }

    /** @return list<string> payloads of messages(), in arrival order */
    public function payloads(): array
    {
        return array_column($this->messages(), 1);
    }

    /** Complete lines only. */
    protected function parse(string $chunk): int
    {
        $end = strrpos($chunk, "\n");
        if ($end === false) {
            return 0;
        }
        foreach (explode("\n", substr($chunk, 0, $end)) as $line) {
            $split = strrpos($line, ' ');
            $payload = $split === false ? false : hex2bin(substr($line, $split + 1));
            if ($payload === false) {
                Failure::raise("unparsable mosquitto_sub output line: " . var_export($line, true));
            }
            $topic = substr($line, 0, $split);
            $this->received($topic, $payload, [$topic, $payload]);
        }
        return $end + 1;
    }
}
