<?php

declare(strict_types=1);

// Scenario 4: what one short CLI run (or a recycled FPM worker) costs: start,
// open the connection, publish() one message, exit (which flushes it).
// Args: host, port, topic, payload, qos ("none": the same run without the Mqtt\Client).

$o = [];
parse_str(implode('&', array_slice($argv, 1)), $o);
if ($o['qos'] !== 'none') {
    (new Mqtt\Client(['host' => $o['host'], 'port' => (int) $o['port']]))->publish($o['topic'], $o['payload'], (int) $o['qos']);
}
