function mpc = hostile
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [ ];
mpc.gen = [
	1	150	0	0	0	1	100	1	300	0	0	0	0	0	0	0	0	0	0	0	0;
];
mpc.branch = [
	1	2	0	0.1	0	0	0	0	0	0	1	-360	360;
	2	3	0	0.1	0	0	0	0	0	0	1	-360	360;
];
